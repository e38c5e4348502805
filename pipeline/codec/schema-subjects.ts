// What the registry says about who a schema belongs to. Debezium's converter registers a topic's
// schemas under the subjects `<topic>-key` and `<topic>-value` (the registry's topic name
// strategy), so a schema id tells which topic it was made for: a message carrying another topic's
// schema, or no key where its topic has keys, was not written by the connector for that topic.
export interface SchemaSubjects {
  /** The subjects schema `id` is registered under; undefined when the registry cannot say. */
  subjectsOf(id: number): Promise<readonly string[] | undefined>;
  /** Whether `subject` exists; undefined when the registry cannot say. */
  hasSubject(subject: string): Promise<boolean | undefined>;
}

/** The subject Debezium registers a topic's key or value schema under. */
export const subjectOf = (topic: string, part: 'key' | 'value'): string => `${topic}-${part}`;
