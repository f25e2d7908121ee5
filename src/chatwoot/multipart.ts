import { randomBytes } from 'node:crypto';

/** One file part of a multipart/form-data body. */
export interface FilePart {
  /** Form field name, e.g. `attachments[]`. */
  field: string;
  fileName: string;
  contentType: string;
  data: Buffer;
}

export interface MultipartForm {
  fields: readonly (readonly [string, string])[];
  files: readonly FilePart[];
}

/**
 * Builds a multipart/form-data body (RFC 7578) in one buffer. Written by hand rather than with
 * undici's FormData so that each part's Content-Type is exactly what is given: Chatwoot derives an
 * attachment's file_type from it by exact match, so `image/jpeg` must not gain a charset.
 */
export function encodeMultipart(form: MultipartForm): { body: Buffer; contentType: string } {
  const boundary = `----evosync${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const [name, value] of form.fields) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${quote(name)}"\r\n\r\n${value}\r\n`, 'utf8'));
  }
  for (const f of form.files) {
    chunks.push(
      Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="${quote(f.field)}"; filename="${quote(f.fileName)}"\r\nContent-Type: ${f.contentType.replace(/[\r\n]/g, '')}\r\n\r\n`,
        'utf8',
      ),
      f.data,
      Buffer.from('\r\n'),
    );
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The escaping browsers (and the WHATWG FormData serialiser) apply inside quoted parameters. */
function quote(s: string): string {
  return s.replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/"/g, '%22');
}
