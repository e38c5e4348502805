// The name of pgferry's bookkeeping schema in the target (offsets, row positions, copy plans). It
// lives here, below sink/ which creates and writes it, because routing must know it to refuse it:
// no replicated table may ever map into it.
export const BOOKKEEPING_SCHEMA = 'pgferry';
