import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { csvRows, type CsvRow } from '../src/node/csv';
import { DatasetError } from '../src/node/image-io';

async function rows(input: Readable | string, file = '/data/f.csv'): Promise<CsvRow[]> {
  const out: CsvRow[] = [];
  for await (const row of csvRows(input, file)) out.push(row);
  return out;
}

/** A stream handing on `text` in pieces of `size` characters. */
const chunked = (text: string, size: number) =>
  Readable.from(Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size)));

/** The error `csvRows` stops with. */
async function failure(input: Readable | string, file = '/data/f.csv'): Promise<DatasetError> {
  try {
    await rows(input, file);
  } catch (error) {
    expect(error).toBeInstanceOf(DatasetError);
    return error as DatasetError;
  }
  throw new Error('csvRows read the file without an error');
}

// one of every kind of row, over 10 lines with every line break: a byte order mark, a header, a
// blank line, quoted line breaks (LF, CRLF), a blank-looking line, spaces around and inside quotes
const MIXED = '\uFEFFpath,label\r\n\r\n"a\nb.jpg",1\rc.jpg,2\n  \nd.jpg,"x\r\ny"\n e.jpg , " f "\n"g ""h"" , i",\n';
const MIXED_ROWS: CsvRow[] = [
  { fields: ['path', 'label'], line: 1 },
  { fields: ['a\nb.jpg', '1'], line: 3 },
  { fields: ['c.jpg', '2'], line: 5 },
  { fields: ['d.jpg', 'x\r\ny'], line: 7 },
  { fields: ['e.jpg', 'f'], line: 9 },
  { fields: ['g "h" , i', ''], line: 10 },
];

describe('csvRows', () => {
  it('splits quoted fields holding commas and "" (what parseCsvLine did), trimming them', async () => {
    expect(await rows('a,"b,c","d ""e""",')).toEqual([{ fields: ['a', 'b,c', 'd "e"', ''], line: 1 }]);
  });

  it('numbers rows by the line they start on across quoted line breaks, LF, CRLF and CR; drops a BOM and blank rows', async () => {
    expect(await rows(MIXED)).toEqual(MIXED_ROWS);
    // no line break at the end
    expect(await rows('a,1\n\nb,2')).toEqual([
      { fields: ['a', '1'], line: 1 },
      { fields: ['b', '2'], line: 3 },
    ]);
    expect(await rows('')).toEqual([]);
  });

  it('reads a stream as it reads the text, whichever way it is cut (a CRLF or a "" split between chunks)', async () => {
    for (const size of [1, 2, 3, 7, 64]) expect(await rows(chunked(MIXED, size))).toEqual(MIXED_ROWS);
    expect(await rows(Readable.from([Buffer.from('\uFEFFa,"b\r'), Buffer.from('\nc"\r'), Buffer.from('\nd,e')]))).toEqual([
      { fields: ['a', 'b\r\nc'], line: 1 },
      { fields: ['d', 'e'], line: 3 },
    ]);
  });

  it('leaves the field count to the loader and takes a quote inside an unquoted field as a character', async () => {
    expect(await rows('a\nb,c,d\na"b,5"\n')).toEqual([
      { fields: ['a'], line: 1 },
      { fields: ['b', 'c', 'd'], line: 2 },
      { fields: ['a"b', '5"'], line: 3 },
    ]);
  });

  it('stops at a quote never closed, naming file and the line its row starts on', async () => {
    expect((await failure('a,1\n"b,\n2\nc,3\n')).message).toBe('/data/f.csv:2: a quoted field is never closed (a " without its closing ")');
    // after a row over three lines, from a stream
    expect((await failure(chunked('a,"1\n2\n3"\r\nb,4\n"c,5\n', 4))).line).toBe(5);
  });

  it('stops at text after a closing quote, naming file and line', async () => {
    expect((await failure('a,"x\ny"\nb,"2"3\nc,4\n', 'g.csv')).message).toBe(
      'g.csv:3: text after the closing quote of a field (a quote inside a quoted field is written "")',
    );
  });

  it('names the file, without a line, when the stream cannot be read', async () => {
    const input = new Readable({
      read() {
        this.destroy(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
      },
    });
    const error = await failure(input, '/data/locked.csv');
    expect(error.message).toBe('/data/locked.csv: file is unreadable (EACCES)');
    expect(error.line).toBeUndefined();
  });

  it('closes the stream when the reader leaves early', async () => {
    const input = chunked(Array.from({ length: 10_000 }, (_, i) => `r${i},${i}`).join('\n'), 100);
    for await (const row of csvRows(input, 'big.csv')) {
      expect(row.line).toBe(1);
      break;
    }
    await new Promise((done) => setImmediate(done));
    expect(input.destroyed).toBe(true);
  });
});
