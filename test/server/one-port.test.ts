/**
 * Connection handling of the one-port server with real sockets: preface-only and silent
 * connections are released, and descriptors return to where they started.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import http2 from "node:http2";
import { connect, type AddressInfo, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { loadConfig } from "../../src/config/config.js";
import { createOnePortServer, type OnePortServer } from "../../src/server/one-port.js";
import { startTestService } from "../support/service.js";
import { until } from "../support/until.js";

const openDescriptors = () => readdirSync("/proc/self/fd").length;

let onePort: OnePortServer;
let port: number;
before(async () => {
  onePort = createOnePortServer((_request, response) => response.end("ok"), { sniffTimeoutMs: 500, http2IdleTimeoutMs: 1_000 });
  await new Promise<void>((resolve) => onePort.server.listen(0, "127.0.0.1", resolve));
  port = (onePort.server.address() as AddressInfo).port;
});
after(async () => {
  onePort.closeConnections();
  await new Promise((resolve) => onePort.server.close(resolve));
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => resolve(socket));
    socket.on("error", reject);
  });
}

const serverConnections = () => new Promise<number>((resolve, reject) => onePort.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));

describe("one port: connection handling", () => {
  it("1,000 connections that send only the HTTP/2 preface and close: descriptors return to where they started", async () => {
    const start = openDescriptors();
    for (let batch = 0; batch < 10; batch++) {
      const sockets = await Promise.all(Array.from({ length: 100 }, open));
      for (const socket of sockets) socket.resume().end("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
      await Promise.all(sockets.map((socket) => new Promise((resolve) => (socket.destroyed ? resolve(null) : socket.once("close", resolve)))));
    }
    await until("the server's connections to close", async () => (await serverConnections()) === 0, { timeoutMs: 60_000 });
    await until("descriptors back to the start", () => openDescriptors() <= start + 5, { timeoutMs: 60_000, detail: () => `${openDescriptors()} open, ${start} at start` });
  });

  it("silent connections and 2-byte ones are closed after the sniff timeout", async () => {
    const start = openDescriptors();
    const silent = (await Promise.all(Array.from({ length: 30 }, open))).map((socket) => socket.resume());
    const twoBytes = (await Promise.all(Array.from({ length: 30 }, open))).map((socket) => socket.resume());
    for (const socket of twoBytes) socket.write("PR");
    const closed = (socket: Socket) => new Promise((resolve) => socket.once("close", resolve));
    await Promise.all([...silent, ...twoBytes].map(closed));
    await until("descriptors back to the start", () => openDescriptors() <= start + 5, { timeoutMs: 30_000, detail: () => `${openDescriptors()} open, ${start} at start` });
  });

  it("an HTTP/2 session that stays idle after the preface is closed", async () => {
    const socket = await open();
    socket.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    socket.resume();
    await new Promise((resolve) => socket.once("close", resolve));
  });

  it("still serves HTTP/1.1 and HTTP/2 afterwards", async () => {
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), "ok");
    const session = http2.connect(`http://127.0.0.1:${port}`);
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ":path": "/" });
      let text = "";
      stream.on("data", (chunk: Buffer) => (text += chunk));
      stream.on("end", () => resolve(text));
      stream.on("error", reject);
    });
    session.close();
    assert.equal(body, "ok");
  });
});

describe("one port: timeouts from the configuration", () => {
  it("the service closes a silent connection after SNIFF_TIMEOUT_MS and rejects a zero timeout", async () => {
    assert.throws(() => loadConfig({ SNIFF_TIMEOUT_MS: "0" }), /SNIFF_TIMEOUT_MS/);
    assert.throws(() => loadConfig({ HTTP2_IDLE_TIMEOUT_MS: "soon" }), /HTTP2_IDLE_TIMEOUT_MS/);
    const running = await startTestService({ SNIFF_TIMEOUT_MS: "300", HTTP2_IDLE_TIMEOUT_MS: "600" });
    try {
      const { port: servicePort } = new URL(running.url);
      const started = performance.now();
      const socket = connect(Number(servicePort), "127.0.0.1").resume();
      await new Promise((resolve) => socket.once("close", resolve));
      // Far below the 10 s default: the variable reached the one-port server.
      assert.ok(performance.now() - started < 5_000, `closed after ${Math.round(performance.now() - started)} ms`);
      const session = http2.connect(running.url);
      await new Promise((resolve) => session.once("close", resolve));
    } finally {
      await running.stop();
    }
  });
});
