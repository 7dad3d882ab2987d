import { SchemaValidationError, type SchemaIssue } from './errors.js';

/**
 * The Standard Schema v1 interface (https://standardschema.dev), implemented by zod, valibot,
 * arktype and others. Declared here structurally so the core has no dependency.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

/** Result of a Standard Schema validation. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly SchemaIssue[] };

/** Validate `value`, returning the (possibly transformed) output or throwing SchemaValidationError. */
export async function validateWith<T>(schema: StandardSchemaV1<unknown, T>, value: unknown): Promise<T> {
  const result = await schema['~standard'].validate(value);
  if (result.issues) throw new SchemaValidationError(result.issues);
  return result.value;
}
