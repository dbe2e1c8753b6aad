// Parses an AsyncAPI document with @asyncapi/parser (its own rules and
// every referenced schema, docs/event.schema.json included) and exits 1
// when the parser reports anything of severity error (or the document
// cannot be read), 0 otherwise. Warnings are printed, and make it fail
// only with --strict. Usage: node validate.mjs [--strict] <document>
import { resolve } from 'node:path';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const args = process.argv.slice(2);
const strict = args.includes('--strict');
const files = args.filter((a) => a !== '--strict');
if (files.length !== 1) {
  console.error('usage: node validate.mjs [--strict] <asyncapi document>');
  process.exit(2);
}
const file = resolve(files[0]);

const names = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

let out;
try {
  out = await fromFile(new Parser(), file).parse();
} catch (err) {
  console.error(`${file}: cannot parse: ${err.message}`);
  process.exit(1);
}

let failed = out.document === undefined;
for (const d of out.diagnostics) {
  const bad = d.severity === DiagnosticSeverity.Error || (strict && d.severity === DiagnosticSeverity.Warning);
  failed ||= bad;
  const where = d.path && d.path.length ? d.path.join('/') : '(document)';
  const line = d.range ? `:${d.range.start.line + 1}` : '';
  console.log(`${file}${line}: ${names[d.severity] ?? d.severity} ${d.code}: ${d.message} (at ${where})`);
}
if (failed) {
  console.error(`${file}: invalid AsyncAPI document`);
  process.exit(1);
}
const doc = out.document;
console.log(`${file}: valid AsyncAPI ${doc.version()}: ${doc.channels().length} channels, ` +
  `${doc.operations().length} operations, ${doc.messages().length} messages`);
