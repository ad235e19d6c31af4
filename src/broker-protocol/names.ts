/** Names a topic or group may have: safe as a directory name and in a URL path. */
export const namePattern = "^[A-Za-z0-9._-]{1,200}$";
const nameRegex = new RegExp(namePattern);

export function isValidName(name: string): boolean {
  return nameRegex.test(name) && name !== "." && name !== "..";
}
