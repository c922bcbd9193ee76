import path from 'node:path';

/**
 * Whether `child` is `parent` or lies under it, by their paths as written (resolved against the current folder;
 * links are not followed: callers that must not be fooled by one resolve them first). A name that only starts with
 * two dots (`..cache`) is inside.
 */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}
