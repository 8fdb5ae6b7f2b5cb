// One call shape for both wire protocols, so scenarios never branch on the protocol themselves:
// Connect JSON is a POST of the JSON request to /<service>/<method>; gRPC goes through k6/net/grpc
// over cleartext HTTP/2, loading the same proto files the server is generated from.
import exec from 'k6/execution';
import http from 'k6/http';
import grpc from 'k6/net/grpc';
import { config } from './config.js';

const grpcClient = new grpc.Client();
// Paths are resolved relative to this file: k6/lib -> repository root proto/.
grpcClient.load(['../../proto'], 'payment/v1/account.proto', 'payment/v1/payment.proto');

let grpcConnected = false;
const authorization = config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {};
const connectHeaders = Object.assign({ 'Content-Type': 'application/json' }, authorization);

/**
 * Calls `service/method` (e.g. "payment.v1.PaymentService", "AuthorizePayment") with a request in
 * proto3 JSON form. Returns { ok, message, code }: message is the proto3 JSON response, code the
 * Connect or gRPC error code when the call failed. Metrics carry the tag rpc=<method>.
 */
export function call(protocol, service, method, request) {
  const tags = { rpc: method };
  const baseUrl = instanceUrl();
  if (protocol === 'connect') {
    const res = http.post(`${baseUrl}/${service}/${method}`, JSON.stringify(request), {
      headers: connectHeaders,
      tags,
    });
    const body = res.body ? safeJson(res.body) : null;
    if (res.status === 200) return { ok: true, message: body, code: '' };
    return { ok: false, message: null, code: (body && body.code) || `http_${res.status}` };
  }
  if (!grpcConnected) {
    const addr = config.baseUrls.length > 1 ? baseUrl.replace(/^https?:\/\//, '') : config.grpcAddr;
    grpcClient.connect(addr, { plaintext: true, timeout: '10s' });
    grpcConnected = true;
  }
  // As long as the service allows (MAX_TIMEOUT_MS, 30 s; a longer deadline is refused): a 1,000-item
  // batch may queue behind the other clients' batches.
  const res = grpcClient.invoke(`${service}/${method}`, request, { tags, timeout: '30s', metadata: authorization });
  if (res && res.status === grpc.StatusOK) return { ok: true, message: res.message, code: '' };
  return { ok: false, message: null, code: res && res.error ? String(res.error.code ?? res.status) : 'no_response' };
}

/** The instance this VU talks to: with BASE_URLS, VUs are spread over the instances round robin. */
function instanceUrl() {
  if (config.baseUrls.length === 1) return config.baseUrl;
  const vu = exec.vu.idInTest || 1;
  return config.baseUrls[(vu - 1) % config.baseUrls.length];
}

function safeJson(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return null;
  }
}
