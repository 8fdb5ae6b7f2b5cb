/**
 * Validates published messages against the committed JSON Schemas in schemas/ (not the TypeBox
 * sources): a consumer in any language would use these files, so this checks that they describe
 * what is really on the wire.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";

const defaultDir = fileURLToPath(new URL("../../schemas", import.meta.url));

/** Validates a decoded message by schema name ("PaymentAuthorized", "DeadLetter", ...). */
export class SchemaValidator {
  readonly #validators = new Map<string, ValidateFunction>();

  /** Compiles every schemas/*.json file; each is keyed by its `$id`. */
  constructor(dir: string = defaultDir) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".json"))) {
      const schema = JSON.parse(readFileSync(join(dir, file), "utf8")) as { $id: string };
      this.#validators.set(schema.$id, ajv.compile(schema));
    }
  }

  /** The problems found in `value` under the schema `type`; empty when valid. */
  problems(type: string, value: unknown): string[] {
    const validate = this.#validators.get(type);
    if (!validate) return [`no schema for type ${JSON.stringify(type)}`];
    if (validate(value)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message ?? "invalid"}`);
  }
}
