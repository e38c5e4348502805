// Cutover's schema objects: how a trigger's state is restored, and the confirmation plan naming
// the triggers it enables and the materialized views it refreshes (gate 4).
import { describe, expect, it } from 'vitest';
import { enableTriggerStatement } from '../../migrate/cutover/cutover-objects.js';
import { buildGateChangePlan } from '../../migrate/cutover/gate-change-plan.js';

describe('enableTriggerStatement', () => {
  const t = { schema: 'app', table: 'items', trigger: 'touch', enabledAt: null };
  it('restores the source state: plain, ALWAYS or REPLICA', () => {
    expect(enableTriggerStatement({ ...t, state: 'O' })).toBe(
      'ALTER TABLE "app"."items" ENABLE TRIGGER "touch"',
    );
    expect(enableTriggerStatement({ ...t, state: 'A' })).toBe(
      'ALTER TABLE "app"."items" ENABLE ALWAYS TRIGGER "touch"',
    );
    expect(enableTriggerStatement({ ...t, state: 'R' })).toBe(
      'ALTER TABLE "app"."items" ENABLE REPLICA TRIGGER "touch"',
    );
  });
});

describe('buildGateChangePlan with schema objects', () => {
  it('lists the triggers and materialized views gate 4 changes, before the report', () => {
    const plan = buildGateChangePlan({
      direction: 'cutover',
      from: { host: 's', port: 5432, database: 'old' },
      to: { host: 't', port: 5433, database: 'new' },
      tables: ['app.items'],
      sequences: [],
      objects: { triggers: ['app.items touch'], materializedViews: ['app.totals'] },
      reportDir: 'r',
    });
    expect(plan.steps.map((s) => s.action.slice(0, 6))).toEqual(['gate 4', 'gate 4', 'gate 5']);
    expect(plan.steps[1]?.objects).toEqual([
      'trigger app.items touch',
      'materialized view app.totals',
    ]);
  });
});

describe('buildGateChangePlan with deferred changes', () => {
  it('names each foreign key and column change gate 4 applies, before the triggers', () => {
    const plan = buildGateChangePlan({
      direction: 'cutover',
      from: { host: 's', port: 5432, database: 'old' },
      to: { host: 't', port: 5433, database: 'new' },
      tables: ['app.items'],
      sequences: [],
      objects: {
        deferred: ['foreign-key app.items items_owner_fkey', 'identity-always app.items.id'],
        triggers: ['app.items touch'],
        materializedViews: [],
      },
      reportDir: 'r',
    });
    expect(plan.steps[1]?.action).toContain('foreign keys added and validated');
    expect(plan.steps[1]?.objects).toEqual([
      'foreign-key app.items items_owner_fkey',
      'identity-always app.items.id',
      'trigger app.items touch',
    ]);
  });
});
