/**
 * The route fuzzer's reading of the app's own OpenAPI document: each
 * operation with its parameters, its JSON body schema and the 5xx statuses it
 * documents.
 */

/** The subset of JSON Schema that the API's zod schemas produce in its OpenAPI document. */
export interface Schema {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  oneOf?: Schema[];
  anyOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
}

/** A parameter of an operation. */
export interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: Schema;
}

/** One method of one route, as the fuzzer uses it. */
export interface Operation {
  method: string;
  /** the OpenAPI path, `/api/models/{id}` */
  route: string;
  params: Parameter[];
  body?: { contentType: string; schema: Schema; required: boolean };
  /** statuses of 500 and above that the route documents (e.g. the LLM test's 502) */
  documented5xx: Set<number>;
}

/** Every operation of an OpenAPI document (`/api/openapi.json`). */
export function operationsOf(doc: { paths: Record<string, Record<string, { parameters?: Parameter[]; requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> }; responses?: Record<string, unknown> }>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [route, methods] of Object.entries(doc.paths)) {
    for (const [method, o] of Object.entries(methods)) {
      const content = o.requestBody ? Object.entries(o.requestBody.content)[0] : undefined;
      ops.push({
        method,
        route,
        params: o.parameters ?? [],
        body: content ? { contentType: content[0], schema: content[1].schema, required: o.requestBody?.required ?? false } : undefined,
        documented5xx: new Set(Object.keys(o.responses ?? {}).map(Number).filter((s) => s >= 500)),
      });
    }
  }
  return ops;
}
