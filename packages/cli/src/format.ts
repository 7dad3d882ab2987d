/** Plain-text tables and value formatting for the human output. */

/** Alignment of a table column. */
export type Align = 'left' | 'right';

/** A column of {@link table}. */
export interface Column {
  readonly title: string;
  readonly align?: Align;
  /** Longest cell, in characters; longer values are cut with `…`. */
  readonly max?: number;
}

/** Cut `text` to `max` characters, marking the cut with `…`. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return max <= 1 ? text.slice(0, max) : `${text.slice(0, max - 1)}…`;
}

/**
 * What a terminal would act on instead of showing: C0 controls but newline and tab, DEL, C1 controls
 * (ESC and CSI start colour, cursor, title and OSC sequences), line/paragraph separators and bidi
 * embeddings, overrides and isolates (which reorder what is shown).
 */
const TERMINAL_CONTROL =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * `text` safe to print on a terminal: every control character (see above) shown as a visible escape,
 * `\x1b` or `\u202e`. Broker data (job names, payloads, errors) goes through it; escaping is idempotent.
 */
export function visible(text: string): string {
  return text.replace(TERMINAL_CONTROL, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/**
 * `JSON.stringify(value)` with the characters JSON leaves raw but a terminal acts on (DEL, C1, bidi,
 * separators) written as `\uXXXX` escapes: still JSON, parsing to the same value.
 */
export function jsonText(value: unknown): string {
  return (JSON.stringify(value) ?? 'null').replace(
    TERMINAL_CONTROL,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** One line of a cell: newlines and tabs shown as spaces, control characters as escapes. */
function cellText(value: string): string {
  return visible(value.replace(/[\r\n\t]+/g, ' '));
}

/** Render rows as an aligned table with a header line; no trailing spaces. */
export function table(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) =>
    columns.map((column, index) => {
      const text = cellText(row[index] ?? '');
      return column.max ? truncate(text, column.max) : text;
    }),
  );
  const widths = columns.map((column, index) =>
    Math.max(column.title.length, ...cells.map((row) => row[index]?.length ?? 0)),
  );
  const render = (row: readonly string[]) =>
    row
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        return columns[index]?.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [render(columns.map((column) => column.title)), ...cells.map(render)].join('\n');
}

/** A count, or `-` when the broker cannot tell. */
export function count(value: number | undefined): string {
  return value === undefined ? '-' : String(value);
}

/** A time as `2025-01-31 12:00:00Z`, or `-`. */
export function time(value: Date | undefined): string {
  if (!value || Number.isNaN(value.getTime())) return '-';
  return `${value.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A time as an ISO string, or null (JSON output). */
export function isoOrNull(value: Date | undefined): string | null {
  return value && !Number.isNaN(value.getTime()) ? value.toISOString() : null;
}

/** A duration in ms as `250ms`, `1.5s`, `2m`, `3h`, `1d`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${ms}ms`;
  if (ms < 60_000) return `${Number((ms / 1_000).toFixed(1))}s`;
  if (ms < 3_600_000) return `${Number((ms / 60_000).toFixed(1))}m`;
  if (ms < 86_400_000) return `${Number((ms / 3_600_000).toFixed(1))}h`;
  return `${Number((ms / 86_400_000).toFixed(1))}d`;
}

/** A payload for a table cell: compact JSON, or `<undecodable>`. */
export function payload(data: unknown, decodable = true): string {
  if (!decodable) return '<undecodable>';
  if (data === undefined) return '';
  try {
    return JSON.stringify(data) ?? String(data);
  } catch {
    return String(data);
  }
}

/** A progress line such as `[#######.............]  35% 350/1000 redriven`. */
export function progressBar(done: number, total: number | undefined, label: string, width = 30): string {
  if (total === undefined || total <= 0) return `${done} ${label}`;
  const ratio = Math.max(0, Math.min(1, done / total));
  const filled = Math.round(ratio * width);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${percent} ${done}/${total} ${label}`;
}
