/**
 * CSV rows for the data-set loaders of every task, read with csv-parse (RFC 4180: quoted fields may
 * hold commas, quotes as `""` and line breaks), each with the line it starts on, so that errors name
 * file and line.
 */
import { pipeline, type Readable } from 'node:stream';
import { CsvError, parse, type Options } from 'csv-parse';
import { DatasetError } from './image-io';

export interface CsvRow {
  /** Fields, trimmed (inside quotes too). */
  fields: string[];
  /** 1-based line of the file the row starts on. */
  line: number;
}

/** Text of the reason a CSV cannot be read on, from csv-parse's error code. */
function reason(e: CsvError): string {
  switch (e.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return 'a quoted field is never closed (a " without its closing ")';
    case 'CSV_INVALID_CLOSING_QUOTE':
    case 'CSV_NON_TRIMABLE_CHAR_AFTER_CLOSING_QUOTE':
      return 'text after the closing quote of a field (a quote inside a quoted field is written "")';
    default:
      return `not valid CSV (${e.message})`;
  }
}

/**
 * The rows of a CSV file (`input`, its text or a stream of it; `file` names it in errors), in order.
 * Line breaks may be LF, CRLF or CR, also mixed; a byte order mark is dropped; blank rows are left out.
 * A row may have any number of fields: the loader checks them. A quote that is never closed, or text
 * after a closing quote, stops the reading with a DatasetError naming the line the row starts on; so
 * does a stream that cannot be read (`file is unreadable (EACCES)`), without a line.
 *
 * ```ts
 * for await (const { fields, line } of csvRows(createReadStream(file), file)) {
 *   if (fields.length !== 2) throw new DatasetError(file, `expected 2 fields, found ${fields.length}`, { line });
 * }
 * ```
 */
export async function* csvRows(input: Readable | string, file: string): AsyncGenerator<CsvRow> {
  // the line the next row starts on, counted as csv-parse reads (an error can come before the rows
  // read ahead of it are handed out)
  let next = 1;
  const toRow = ({ record, raw }: { record: string[]; raw: string }): CsvRow | null => {
    const line = next;
    next += raw.match(/\r\n|\r|\n/g)?.length ?? 0;
    // inside quotes too, as the loaders always did
    const fields = record.map((f) => f.trim());
    return fields.length === 1 && fields[0] === '' ? null : { fields, line };
  };
  const parser = parse({
    bom: true,
    // csv-parse gives each record's text, up to the first character of its line break
    raw: true,
    record_delimiter: ['\r\n', '\n', '\r'],
    relax_column_count: true,
    // a quote inside an unquoted field is a character, as before csv-parse was used
    relax_quotes: true,
    trim: true,
    // with `raw`, csv-parse hands on_record `{ record, raw }`, which its types do not say
    on_record: toRow as unknown as Options['on_record'],
  });
  // pipeline: a read error reaches the parser, and a parser left early closes the file
  if (typeof input === 'string') parser.end(input);
  else pipeline(input, parser, () => undefined);
  try {
    for await (const row of parser as AsyncIterable<CsvRow>) yield row;
  } catch (e) {
    if (e instanceof CsvError) throw new DatasetError(file, reason(e), { line: next, cause: e });
    const code = (e as NodeJS.ErrnoException).code;
    if (code) throw new DatasetError(file, `file is unreadable (${code})`, { cause: e });
    throw e;
  }
}
