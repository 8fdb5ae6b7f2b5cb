import assert from "node:assert/strict";
import { it } from "node:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Health } from "../../gen/grpc/health/v1/health_pb.js";
import { file_payment_v1_common } from "../../gen/payment/v1/common_pb.js";
import { PaymentService } from "../../gen/payment/v1/payment_pb.js";
import { ReflectionIndex } from "../../src/reflection/reflection-service.js";

const index = new ReflectionIndex([PaymentService, Health], [file_payment_v1_common]);

function fileNames(answer: ReturnType<ReflectionIndex["answer"]>): string[] {
  assert.equal(answer.case, "fileDescriptorResponse");
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

it("a method, a nested enum or a file name leads to its file, followed by its imports", () => {
  const expected = ["payment/v1/payment.proto", "google/protobuf/duration.proto", "google/protobuf/timestamp.proto"];
  assert.deepEqual(fileNames(index.answer({ messageRequest: { case: "fileContainingSymbol", value: "payment.v1.PaymentService.AuthorizePayment" } })), expected);
  assert.deepEqual(fileNames(index.answer({ messageRequest: { case: "fileContainingSymbol", value: "payment.v1.DeclineReason" } })), expected);
  assert.deepEqual(fileNames(index.answer({ messageRequest: { case: "fileByFilename", value: "payment/v1/payment.proto" } })), expected);
  assert.deepEqual(
    fileNames(index.answer({ messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.HealthCheckResponse.ServingStatus" } })),
    ["grpc/health/v1/health.proto"],
  );
  // A file no service imports, served because error details name its type.
  assert.deepEqual(fileNames(index.answer({ messageRequest: { case: "fileContainingSymbol", value: "payment.v1.ErrorDetail" } })), ["payment/v1/common.proto"]);
});

it("unknown names are NOT_FOUND, an empty request INVALID_ARGUMENT, extensions an empty list", () => {
  assert.deepEqual(index.answer({ messageRequest: { case: "fileContainingSymbol", value: "payment.v1.Nope" } }), {
    case: "errorResponse",
    value: { errorCode: 5, errorMessage: "symbol payment.v1.Nope not found" },
  });
  assert.equal(index.answer({ messageRequest: { case: "fileByFilename", value: "nope.proto" } }).case, "errorResponse");
  assert.deepEqual(index.answer({ messageRequest: { case: undefined } }), {
    case: "errorResponse",
    value: { errorCode: 3, errorMessage: "empty reflection request" },
  });
  assert.deepEqual(index.answer({ messageRequest: { case: "allExtensionNumbersOfType", value: "payment.v1.Payment" } }), {
    case: "allExtensionNumbersResponse",
    value: { baseTypeName: "payment.v1.Payment", extensionNumber: [] },
  });
  const missing = index.answer({ messageRequest: { case: "fileContainingExtension", value: { containingType: "payment.v1.Payment", extensionNumber: 100 } } });
  assert.equal(missing.case, "errorResponse");
});
