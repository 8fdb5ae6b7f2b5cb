/**
 * Validates published messages against the committed JSON Schemas in schemas/ (not the TypeBox
 * sources): a consumer in any language would use these files, so this checks that they describe
 * what is really on the wire. TypeBox's compiler validates plain JSON Schema too, so no second
 * validator (ajv) is needed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Compile, type Validator } from "typebox/compile";

const defaultDir = fileURLToPath(new URL("../../schemas", import.meta.url));

/** Validates a decoded message by schema name ("PaymentAuthorized", "DeadLetter", ...). */
export class SchemaValidator {
  readonly #validators = new Map<string, Validator>();

  /** Compiles every schemas/*.json file; each is keyed by its `$id`. */
  constructor(dir: string = defaultDir) {
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".json"))) {
      const { $schema: _draft, ...schema } = JSON.parse(readFileSync(join(dir, file), "utf8")) as { $id: string; $schema?: string };
      this.#validators.set(schema.$id, Compile(schema));
    }
  }

  /** The problems found in `value` under the schema `type`; empty when valid. */
  problems(type: string, value: unknown): string[] {
    const validate = this.#validators.get(type);
    if (!validate) return [`no schema for type ${JSON.stringify(type)}`];
    if (validate.Check(value)) return [];
    return validate.Errors(value).map((error) => `${error.instancePath || "/"} ${error.message}`);
  }
}
