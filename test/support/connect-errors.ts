/** Assertions on the errors the API answers with (a Connect code and the catalogue's stable code). */
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/payment/v1/common_pb.js";

/** Asserts that `call` fails with `code`, the stable ledger error `detail` and, when given, `field`; returns the error. */
export async function rejectsWith(call: Promise<unknown>, code: Code, detail: string, field?: string): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    assert.ok(error instanceof ConnectError, String(error));
    assert.equal(error.code, code, error.message);
    const found = error.findDetails(ErrorDetailSchema)[0];
    assert.equal(found?.code, detail, error.message);
    if (field !== undefined) assert.equal(found?.field, field, error.message);
    return error;
  }
  assert.fail(`expected ${Code[code]} ${detail}`);
}
