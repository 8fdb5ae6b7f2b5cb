/** The change feed's fan-out logic (pure: notifications are fed by hand). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChangeFeed } from "../../src/ledger/change-feed.js";

function feedWithHandles() {
  const handles: { notify?: (payload: string) => void; reconnect?: () => void; unlistened: boolean } = { unlistened: false };
  const feed = new ChangeFeed(async (onNotify, onReconnect) => {
    handles.notify = onNotify;
    handles.reconnect = onReconnect;
    return async () => void (handles.unlistened = true);
  });
  return { feed, handles };
}

const HOUR = 3_600_000;

describe("ChangeFeed", () => {
  it("wakes only the subscribers of the key, and remembers a change that came while nobody waited", async () => {
    const { feed, handles } = feedWithHandles();
    await feed.start();
    const a = feed.subscribe("a:1");
    const b = feed.subscribe("a:2");
    handles.notify!("a:1"); // before a waits: remembered
    await a.wait(HOUR);
    let bWoke = false;
    const bWaiting = b.wait(HOUR).then(() => (bWoke = true));
    handles.notify!("a:1");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(bWoke, false, "another account's change does not wake b");
    handles.notify!("a:2");
    await bWaiting;
    a.close();
    b.close();
    assert.equal(feed.size, 0);
  });

  it("wakes everyone after a reconnect (notifications may have been lost)", async () => {
    const { feed, handles } = feedWithHandles();
    await feed.start();
    const subs = [feed.subscribe("a:1"), feed.subscribe("p:1")];
    const waits = subs.map((s) => s.wait(HOUR));
    handles.reconnect!();
    await Promise.all(waits);
  });

  it("stop() ends every wait, closes every subscription and unlistens; later subscriptions start closed", async () => {
    const { feed, handles } = feedWithHandles();
    await feed.start();
    const sub = feed.subscribe("a:1");
    const waiting = sub.wait(HOUR);
    await feed.stop();
    await waiting;
    assert.equal(sub.closed, true);
    assert.equal(handles.unlistened, true);
    assert.equal(feed.subscribe("a:1").closed, true);
  });

  it("an aborted signal ends a wait", async () => {
    const { feed } = feedWithHandles();
    await feed.start();
    const abort = new AbortController();
    const waiting = feed.subscribe("a:1").wait(HOUR, abort.signal);
    abort.abort();
    await waiting;
  });
});
