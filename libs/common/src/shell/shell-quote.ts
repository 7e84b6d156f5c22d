/**
 * Quotes one word for a POSIX shell: wrapped in single quotes, each `'` inside written as
 * `'\''`, so the shell reads it back as exactly that word whatever it holds.
 */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
