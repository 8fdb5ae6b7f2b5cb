/**
 * gRPC server reflection (grpc.reflection.v1 and the older v1alpha, which many tools still try
 * first), answered from the descriptors embedded in the generated code: the services this server
 * registers and every file they need. `buf curl` and grpcurl use it to call methods without
 * local schemas.
 */
import { createRegistry, toBinary, type DescFile, type DescService, type Registry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import type { ServerReflection as ReflectionV1 } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import type { ServerReflection as ReflectionV1alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** The request fields both versions share. */
interface ReflectionRequest {
  messageRequest:
    | { case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices"; value: string }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

type ReflectionAnswer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * Answers reflection requests about `services` and the files they depend on, plus `files` that no
 * service imports (the error detail type, so that tools can decode error details).
 */
export class ReflectionIndex {
  private readonly files = new Map<string, DescFile>();
  private readonly registry: Registry;

  constructor(private readonly services: readonly DescService[], files: readonly DescFile[] = []) {
    for (const file of [...services.map((service) => service.file), ...files]) this.withImports(file).forEach((f) => this.files.set(f.proto.name, f));
    this.registry = createRegistry(...this.files.values());
  }

  answer(request: ReflectionRequest): ReflectionAnswer {
    const { messageRequest } = request;
    switch (messageRequest.case) {
      case "listServices":
        return { case: "listServicesResponse", value: { service: this.services.map((s) => ({ name: s.typeName })) } };
      case "fileByFilename": {
        const file = this.files.get(messageRequest.value);
        return file ? this.fileResponse(file) : notFound(`file ${messageRequest.value}`);
      }
      case "fileContainingSymbol": {
        const file = this.fileOfSymbol(messageRequest.value);
        return file ? this.fileResponse(file) : notFound(`symbol ${messageRequest.value}`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = messageRequest.value;
        const message = this.registry.getMessage(containingType);
        const extension = message && this.registry.getExtensionFor(message, extensionNumber);
        return extension ? this.fileResponse(extension.file) : notFound(`extension ${extensionNumber} of ${containingType}`);
      }
      case "allExtensionNumbersOfType": {
        const message = this.registry.getMessage(messageRequest.value);
        if (!message) return notFound(`type ${messageRequest.value}`);
        const numbers: number[] = [];
        for (const type of this.registry) if (type.kind === "extension" && type.extendee === message) numbers.push(type.number);
        return { case: "allExtensionNumbersResponse", value: { baseTypeName: message.typeName, extensionNumber: numbers } };
      }
      default:
        return { case: "errorResponse", value: { errorCode: Code.InvalidArgument, errorMessage: "empty reflection request" } };
    }
  }

  // Methods and fields are symbols too ("pkg.Service.Method"): they live in their parent's file.
  private fileOfSymbol(symbol: string): DescFile | undefined {
    const type = this.registry.get(symbol);
    if (type) return type.file;
    const parent = symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")));
    const owner = parent ? this.registry.get(parent) : undefined;
    return owner?.kind === "service" || owner?.kind === "message" ? owner.file : undefined;
  }

  /** The file and everything it imports, transitively. */
  private fileResponse(file: DescFile): ReflectionAnswer {
    const files = this.withImports(file);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: files.map((f) => toBinary(FileDescriptorProtoSchema, f.proto)) } };
  }

  /** The file first, then its imports, depth first, each once. */
  private withImports(file: DescFile): DescFile[] {
    const ordered: DescFile[] = [];
    const visit = (f: DescFile) => {
      if (ordered.includes(f)) return;
      ordered.push(f);
      f.dependencies.forEach(visit);
    };
    visit(file);
    return ordered;
  }
}

function notFound(what: string): ReflectionAnswer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

/** Handlers for either version: the messages are identical apart from their package. */
export function reflectionHandlers(
  index: ReflectionIndex,
): ServiceImpl<typeof ReflectionV1> & ServiceImpl<typeof ReflectionV1alpha> {
  return {
    async *serverReflectionInfo(requests: AsyncIterable<ReflectionRequest & { host: string }>) {
      for await (const request of requests) {
        yield { validHost: request.host, originalRequest: request, messageResponse: index.answer(request) };
      }
    },
  } as ServiceImpl<typeof ReflectionV1> & ServiceImpl<typeof ReflectionV1alpha>;
}
