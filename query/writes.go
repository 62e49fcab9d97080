package query

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/billcons/billcons/storage"
)

// ErrWrites is a statement refused because it would write files or reach
// outside the session, in a query that may not.
var ErrWrites = errors.New("refused")

// copyTarget finds the file a COPY … TO writes.
var copyTarget = regexp.MustCompile(`(?is)\bTO\s+'((?:[^']|'')*)'`)

// CheckWrites refuses a statement that would write a file or attach a
// database (COPY … TO, EXPORT DATABASE, ATTACH, INSTALL, LOAD) unless
// allowed; and, allowed or not, a COPY … TO into a billcons tree, whose
// files only billcons writes. Statements that change only the in-memory
// session (CREATE TEMP TABLE, INSERT into it, SET) pass: nothing of them
// outlives the query.
func (d *DB) CheckWrites(ctx context.Context, stmt string, allowed bool) error {
	var typ duckdb.StmtType
	err := d.conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return nil
		}
		st, err := c.PrepareContext(ctx, stmt)
		if err != nil {
			return nil // the statement itself will say what is wrong with it
		}
		defer st.Close()
		if s, ok := st.(*duckdb.Stmt); ok {
			typ, _ = s.StatementType()
		}
		return nil
	})
	if err != nil {
		return err
	}
	what := ""
	switch typ {
	case duckdb.STATEMENT_TYPE_COPY:
		m := copyTarget.FindAllStringSubmatch(stmt, -1)
		if len(m) == 0 {
			return nil // COPY … FROM: reads into the session
		}
		target := strings.ReplaceAll(m[len(m)-1][1], "''", "'")
		if !filepath.IsAbs(target) {
			target = filepath.Join(".", target)
		}
		if tree := storage.TreeAround(target); tree != "" {
			return fmt.Errorf("%w: COPY … TO %s writes inside the billcons tree %s, whose files only billcons writes; write it outside the tree", ErrWrites, target, tree)
		}
		what = "COPY … TO writes " + target
	case duckdb.STATEMENT_TYPE_EXPORT:
		what = "EXPORT DATABASE writes files"
	case duckdb.STATEMENT_TYPE_ATTACH, duckdb.STATEMENT_TYPE_DETACH:
		what = "ATTACH opens a database file, which the session could write"
	case duckdb.STATEMENT_TYPE_LOAD, duckdb.STATEMENT_TYPE_EXTENSION:
		what = "INSTALL and LOAD fetch and run extensions"
	}
	if what != "" && !allowed {
		return fmt.Errorf("%w: %s; billcons query only reads unless given --allow-writes", ErrWrites, what)
	}
	return nil
}
