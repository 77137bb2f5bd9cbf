package vault

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/parleyhq/parley/engine/store/postgres/pgtest"
)

// sqlExec runs statements on the database url, as an operator's psql would.
func sqlExec(t *testing.T, url string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestPostgresRestoreOfAnOlderDumpKeepsErasures: a copy of the records is
// taken (what a pg_dump of the data holds), the subject is erased, and the
// older copy is put back over the records. The restore brings the
// subject's key and data back into the database (the control: the
// attacker with the master key reads them); the next Open finds the
// erasure in the ledger table, which the restore did not touch, erases
// again and records the restore in the audit log. Afterwards the attacker
// reads nothing of the subject, and AuditVerify accepts the chain.
func TestPostgresRestoreOfAnOlderDumpKeepsErasures(t *testing.T) {
	c := newClock()
	url := pgtest.URL(t)
	v, _ := openPG(t, url, c)
	s := fillSubject(t, v, c)
	if err := v.Audit("test", "booking", string(s), nil); err != nil {
		t.Fatal(err)
	}
	sqlExec(t, url, "CREATE TABLE dump_records AS SELECT * FROM parley_records")
	if r, err := v.Erase(s, c.Now()); err != nil || !r.KeyDestroyed {
		t.Fatalf("Erase = %+v, %v", r, err)
	}
	if err := v.Audit("test", "subject.erase", string(s), nil); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}

	sqlExec(t, url, "TRUNCATE parley_records", "INSERT INTO parley_records SELECT * FROM dump_records", "DROP TABLE dump_records")
	st := pgOpen(t, url, c)
	if rec, err := AttackerViewStore(st, testKey(1)); err != nil || !rec.Contains([]byte(canaries[0])) {
		t.Fatalf("after the restore the attacker reads no canary (%v): the restore did not bring the erased subject back, so the check below could not fail", err)
	}

	v, err := Open(Options{Store: st, MasterKey: testKey(1), Now: c.Now, PurgeDelay: -1})
	if err != nil {
		t.Fatalf("Open after the restore = %v", err)
	}
	defer v.Close()
	if state, fields, err := v.LoadSubject(s, c.Now()); err != nil || state != nil || len(fields) != 0 {
		t.Errorf("the erased subject after the restore: state %q, %d fields, %v; want nothing", state, len(fields), err)
	}
	rec, err := AttackerViewStore(st, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, cn := range canaries {
		if rec.Contains([]byte(cn)) {
			t.Errorf("after the restore and the next Open the attacker with the master key reads %q", cn)
		}
	}
	if rec.SubjectKeys != 0 {
		t.Errorf("the attacker unwraps %d subject keys; want none", rec.SubjectKeys)
	}
	if _, err := v.AuditVerify(); err != nil {
		t.Errorf("AuditVerify after the detected restore = %v", err)
	}
	es, err := v.AuditEntries(AuditFilter{})
	if err != nil || len(es) == 0 {
		t.Fatalf("AuditEntries = %d, %v", len(es), err)
	}
	last := es[len(es)-1]
	if last.Action != "restore" || last.Detail["detected"] != "true" || last.Detail["ledger_ahead"] != "1" || last.Detail["replaced_seq"] == "" {
		t.Errorf("last audit entry = %+v; want the detected restore naming the head it replaced", last)
	}
}
