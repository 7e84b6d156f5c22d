/** Redaction of secret values (and their encodings) from output that is stored or streamed. */
export * from "./secret-redactor.js";
