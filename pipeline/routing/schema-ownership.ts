// Whether a message's schema was made for its topic: registered under the topic's subject. When
// the registry cannot say, or the topic has no such subject at all (a registry naming subjects
// another way), pgferry cannot tell and lets the message through: the source binding still holds.

export type SchemaOwnership = 'own' | 'foreign' | 'unknown';

export function judgeSchemaOwnership(
  expectedSubject: string,
  subjectsOfSchema: readonly string[] | undefined,
  expectedSubjectExists: boolean | undefined,
): SchemaOwnership {
  if (subjectsOfSchema === undefined) return 'unknown';
  if (subjectsOfSchema.includes(expectedSubject)) return 'own';
  return expectedSubjectExists === true ? 'foreign' : 'unknown';
}
