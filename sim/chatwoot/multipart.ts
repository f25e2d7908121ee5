/**
 * A small multipart/form-data parser (RFC 7578) — enough for what Rack accepts from real
 * clients: text fields, repeated `attachments[]` file parts, quoted or RFC 5987 filenames,
 * CRLF line endings. Kept dependency-free because @fastify/multipart is not installed.
 */

export interface MultipartField {
  name: string;
  value: string;
}

export interface MultipartFile {
  name: string;
  filename: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartResult {
  fields: MultipartField[];
  files: MultipartFile[];
}

export class MultipartError extends Error {}

/** Extracts the boundary parameter from a Content-Type header value. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return m ? (m[1] ?? m[2] ?? null) : null;
}

interface Disposition {
  name: string | null;
  filename: string | null;
}

function parseDisposition(value: string): Disposition {
  const params = new Map<string, string>();
  // name="x"; filename="a b.png"; filename*=UTF-8''a%20b.png
  const re = /;\s*([^=;\s]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  for (let m = re.exec(value); m; m = re.exec(value)) {
    const key = (m[1] ?? '').toLowerCase();
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '').trim();
    params.set(key, raw);
  }
  let filename = params.get('filename') ?? null;
  const extended = params.get('filename*');
  if (extended) {
    const ext = /^([^']*)'[^']*'(.*)$/.exec(extended);
    try {
      filename = decodeURIComponent(ext?.[2] ?? extended);
    } catch {
      filename = ext?.[2] ?? extended;
    }
  }
  return { name: params.get('name') ?? null, filename };
}

function parseHeaders(block: string): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of block.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i <= 0) continue;
    headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return headers;
}

export function parseMultipart(body: Buffer, boundary: string): MultipartResult {
  const result: MultipartResult = { fields: [], files: [] };
  const delimiter = Buffer.from(`--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) throw new MultipartError('multipart boundary not found');
  for (;;) {
    pos += delimiter.length;
    // "--" after a delimiter closes the body.
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) break;
    // Skip transport padding and the CRLF ending the delimiter line.
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] === 0x0d) pos++;
    if (body[pos] === 0x0a) pos++;
    const headerEnd = body.indexOf('\r\n\r\n', pos);
    if (headerEnd < 0) throw new MultipartError('malformed multipart part headers');
    const headers = parseHeaders(body.subarray(pos, headerEnd).toString('utf8'));
    const dataStart = headerEnd + 4;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), dataStart);
    if (next < 0) throw new MultipartError('multipart body not terminated');
    const data = body.subarray(dataStart, next);
    const disposition = parseDisposition(headers.get('content-disposition') ?? '');
    if (disposition.name !== null) {
      if (disposition.filename !== null) {
        // Rack drops file parts with an empty filename (an empty <input type=file>).
        if (disposition.filename !== '') {
          result.files.push({
            name: disposition.name,
            filename: disposition.filename,
            contentType: headers.get('content-type') ?? 'application/octet-stream',
            data: Buffer.from(data),
          });
        }
      } else {
        result.fields.push({ name: disposition.name, value: data.toString('utf8') });
      }
    }
    pos = next + 2; // at the delimiter
  }
  return result;
}
