// The edge of configuration: the files that variables name, read once at start through ConfigFiles, so that
// a missing token or a broken checks file stops start-up instead of failing every query later.
import { readFileSync } from 'node:fs';
import type { CheckTemplate } from '../core/checks.js';
import { parseChecksFile } from '../core/checksfile.js';
import { type ConfigProblem, errnoOf } from '../core/errors.js';
import { type Checked, type CheckedVariables, type Environment, type FileRequirement, SPEC, textOf, VARIABLE_NAMES, type VariableName } from './spec.js';

/** The file access configuration needs; tests may pass their own. */
export interface ConfigFiles {
  readFile(path: string): string;
}

export const nodeFiles: ConfigFiles = { readFile: (path) => readFileSync(path, 'utf8') };

/**
 * The checks of CHECKS_FILE, or the problems that stop start-up (and that a reload keeps the old checks for),
 * each naming the file, the check and the field.
 */
export function readChecks(
  path: string,
  severalGroups: boolean,
  files: ConfigFiles = nodeFiles,
): { ok: true; templates: readonly CheckTemplate[] } | { ok: false; problems: readonly ConfigProblem[] } {
  let text: string;
  try {
    text = files.readFile(path);
  } catch (error) {
    return { ok: false, problems: [{ variable: 'CHECKS_FILE', value: path, expected: `a readable JSON file of checks (${errnoOf(error, 'unreadable')})` }] };
  }
  const parsed = parseChecksFile(text, { severalGroups });
  if (parsed.ok) return parsed;
  return { ok: false, problems: parsed.problems.map((expected) => ({ variable: 'CHECKS_FILE', value: path, expected })) };
}

/** What start-up learnt from the files: the problems of each variable that names one, and CHECKS_FILE's checks. */
export interface FilesRead {
  readonly problems: Partial<Record<VariableName, readonly ConfigProblem[]>>;
  /** null when CHECKS_FILE is unset: the seed's checks apply. */
  readonly checks: Checked<readonly CheckTemplate[]> | null;
}

/** Reads every file the checked variables name. */
export function readFiles(env: Environment, variables: CheckedVariables, files: ConfigFiles): FilesRead {
  const problems: Partial<Record<VariableName, readonly ConfigProblem[]>> = {};
  for (const name of VARIABLE_NAMES) {
    const requirement = SPEC[name].file;
    const checked = variables[name];
    if (requirement === undefined || !checked.ok || typeof checked.value !== 'string') continue;
    const expected = unmetRequirement(checked.value, requirement, files);
    if (expected !== null) problems[name] = [{ variable: name, value: textOf(env, name), expected }];
  }

  const checksFile = variables.CHECKS_FILE.ok ? variables.CHECKS_FILE.value : null;
  if (checksFile === null) return { problems, checks: null };
  // Counted from the text: the file's problems are reported even when KAFKA_GROUP itself is refused.
  const read = readChecks(checksFile, textOf(env, 'KAFKA_GROUP').includes(','), files);
  if (!read.ok) problems.CHECKS_FILE = read.problems;
  return { problems, checks: read.ok ? { ok: true, value: read.templates } : { ok: false, problems: read.problems } };
}

/** What was expected of the file at `path`, or null when it meets `requirement`. */
function unmetRequirement(path: string, requirement: FileRequirement, files: ConfigFiles): string | null {
  let text: string;
  try {
    text = files.readFile(path);
  } catch (error) {
    return `${requirement.expected} (${errnoOf(error, 'unreadable')})`;
  }
  return requirement.holds === undefined || requirement.holds(text) ? null : requirement.expected;
}
