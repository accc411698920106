/**
 * Docker Compose's `$` syntax in one string (hazards §4): `$$` is a literal `$`; `$NAME`,
 * `${NAME}` and `${NAME<op><arg>}` with op one of `:-` `-` `:?` `?` `:+` `+` are replaced at
 * deploy time from the service's `.env`. An argument may itself hold references
 * (`${A:-${B:-x}}`), so a brace is matched by counting nested `${`. Any other `$` is an error for
 * Compose; it is reported as malformed so the policy refuses it rather than guessing.
 */

export type InterpolationOperator = ':-' | '-' | ':?' | '?' | ':+' | '+';

export type InterpolationToken =
  | { kind: 'escaped'; index: number }
  | {
      kind: 'variable';
      name: string;
      /** `bare` is `$NAME`, `braced` is `${…}`. */
      form: 'bare' | 'braced';
      operator: InterpolationOperator | undefined;
      /** Text after the operator, unparsed (may hold nested references). */
      argument: string | undefined;
      /** The whole reference as written, e.g. `${X:-host}`. */
      text: string;
      index: number;
    }
  | { kind: 'malformed'; text: string; index: number };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;
const OPERATOR = /^(:-|-|:\?|\?|:\+|\+)/;

/** Index of the `}` closing the `${` whose body starts at `from`, or -1. */
function closingBrace(text: string, from: number): number {
  let depth = 1;
  for (let i = from; i < text.length; i++) {
    if (text[i] === '$' && text[i + 1] === '$') i++;
    else if (text[i] === '$' && text[i + 1] === '{') {
      depth++;
      i++;
    } else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

export function scanInterpolation(text: string): InterpolationToken[] {
  const tokens: InterpolationToken[] = [];
  for (let i = text.indexOf('$'); i >= 0 && i < text.length; i = text.indexOf('$', i)) {
    const next = text[i + 1];
    if (next === '$') {
      tokens.push({ kind: 'escaped', index: i });
      i += 2;
    } else if (next === '{') {
      const end = closingBrace(text, i + 2);
      if (end < 0) {
        tokens.push({ kind: 'malformed', text: text.slice(i, i + 24), index: i });
        break;
      }
      const body = text.slice(i + 2, end);
      const name = NAME.exec(body)?.[0];
      const rest = name === undefined ? body : body.slice(name.length);
      const operator = OPERATOR.exec(rest)?.[0] as InterpolationOperator | undefined;
      const whole = text.slice(i, end + 1);
      if (name === undefined || (rest !== '' && operator === undefined)) tokens.push({ kind: 'malformed', text: whole, index: i });
      else {
        const argument = operator === undefined ? undefined : rest.slice(operator.length);
        tokens.push({ kind: 'variable', name, form: 'braced', operator, argument, text: whole, index: i });
      }
      i = end + 1;
    } else {
      const name = NAME.exec(text.slice(i + 1))?.[0];
      if (name === undefined) {
        tokens.push({ kind: 'malformed', text: text.slice(i, i + 2), index: i });
        i += 1;
      } else {
        tokens.push({ kind: 'variable', name, form: 'bare', operator: undefined, argument: undefined, text: `$${name}`, index: i });
        i += 1 + name.length;
      }
    }
  }
  return tokens;
}

/**
 * What Compose makes of `text` when every reference is one of `values`: `$$` becomes `$`, `${NAME}`
 * and `$NAME` the value. Returns undefined when the text holds anything else (a default, an
 * unknown name, a malformed `$`): the caller has a finding for it.
 */
export function interpolate(text: string, values: ReadonlyMap<string, string>): string | undefined {
  let out = '';
  let at = 0;
  for (const token of scanInterpolation(text)) {
    out += text.slice(at, token.index);
    if (token.kind === 'escaped') {
      out += '$';
      at = token.index + 2;
      continue;
    }
    if (token.kind === 'malformed' || token.operator !== undefined) return undefined;
    const value = values.get(token.name);
    if (value === undefined) return undefined;
    out += value;
    at = token.index + token.text.length;
  }
  return out + text.slice(at);
}
