// Loaded with NODE_OPTIONS="--import <this file>" (where --cpu-prof is not allowed): the first
// SIGUSR2 starts the inspector's CPU profiler (what node --cpu-prof uses), the second stops it and
// writes a .cpuprofile into $CPU_PROFILE_DIR, so the profile covers the load and not the startup.
// Used by scripts/bench/profile.ts only.
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = process.env.CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  let running = false;
  process.on('SIGUSR2', () => {
    if (!running) {
      running = true;
      session.post('Profiler.start');
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      // Renamed into place whole, so that a reader never sees half a file.
      writeFileSync(`${dir}/${process.pid}.tmp`, JSON.stringify(result.profile));
      renameSync(`${dir}/${process.pid}.tmp`, `${dir}/${process.pid}.cpuprofile`);
    });
  });
}
