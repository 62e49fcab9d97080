package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/billcons/billcons/billing"
	"github.com/billcons/billcons/query"
	"golang.org/x/term"
)

const queryBody = `Opens DuckDB in process over the output tree DIR with these views:
  bills            every billed line, with billing_cycle and payer_account_id
  payers           where each payer's rows are in the bills files, with their sums
  summary          lines and exact sums per cycle, payer, member, product, currency
  changes          the accepted trusteeship changes (decided_by and held_by name them)
  rejects_usage    rejected usage rows; rejects_changes, rejects_accounts likewise
  billing_periods  each cycle's start and exclusive end in the run's time zone
  focus            the bills as FOCUS 1.2 columns

With SQL, runs each of its statements and prints each result (.tables lists
the views); without, reads statements (ended by ";") from standard input,
with a prompt on a terminal; .quit ends. Amounts print exactly; timestamps
in RFC 3339, in the session's time zone: the run's --tz, until a statement
such as SET TimeZone = 'UTC' sets another. It only reads: a statement that
would write a file (COPY … TO, EXPORT DATABASE), attach a database or load
an extension is refused unless --allow-writes, and a COPY into a billcons
tree always is.

The same views in your own DuckDB shell:  .read DIR/views.sql
`

func cmdQuery(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons query", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "table", "table, csv or json (one object per line)")
	allowWrites := fs.Bool("allow-writes", false, "let statements write files (COPY … TO, EXPORT DATABASE) and attach or load; never into a billcons tree")
	ver := versionFlag(fs)
	dir, rest, code := dirFirst("query", fs, args, stdout, stderr, commandHelp("query"))
	if dir == "" {
		return code
	}
	switch *format {
	case query.Table, query.CSV, query.JSON:
	default:
		fmt.Fprintf(stderr, "billcons query: --format %q: want table, csv or json\n", *format)
		return exitUsage
	}
	db, code := openTree(ctx, "query", dir, *ver, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	if len(rest) > 0 {
		if err := printAll(ctx, db, stdout, *format, strings.Join(rest, " "), *allowWrites); err != nil {
			fmt.Fprintf(stderr, "billcons query: %v\n", err)
			return exitFailed
		}
		return exitOK
	}
	return repl(ctx, db, *format, *allowWrites, stdin, stdout, stderr)
}

// repl reads statements until end of input. A failed statement is reported
// and the prompt goes on; the exit status is 1 if any failed.
func repl(ctx context.Context, db *query.DB, format string, allowWrites bool, stdin io.Reader, stdout, stderr io.Writer) int {
	interactive := false
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		interactive = true
		fmt.Fprintf(stdout, "billcons query over %s. End statements with ;  .tables lists the views, .quit ends.\n", db.Dir)
	}
	prompt := func(cont bool) {
		if interactive {
			if cont {
				fmt.Fprint(stdout, "     ...> ")
			} else {
				fmt.Fprint(stdout, "billcons> ")
			}
		}
	}
	status := exitOK
	sc := bufio.NewScanner(stdin)
	sc.Buffer(nil, 1<<20)
	var stmt strings.Builder
	prompt(false)
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if stmt.Len() == 0 {
			switch trimmed {
			case "":
				prompt(false)
				continue
			case ".quit", ".exit", "\\q":
				return status
			case ".tables":
				line = tablesSQL + ";"
			}
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if !strings.HasSuffix(strings.TrimSpace(line), ";") {
			prompt(true)
			continue
		}
		if err := printAll(ctx, db, stdout, format, stmt.String(), allowWrites); err != nil {
			fmt.Fprintf(stderr, "billcons query: %v\n", err)
			status = exitFailed
		}
		stmt.Reset()
		prompt(false)
	}
	if s := strings.TrimSpace(stmt.String()); s != "" {
		if err := printAll(ctx, db, stdout, format, s, allowWrites); err != nil {
			fmt.Fprintf(stderr, "billcons query: %v\n", err)
			status = exitFailed
		}
	}
	return status
}

const invoiceBody = `Prints the consolidated statement of one paying account for one billing
cycle: one row per member account, product and currency with line counts
and exact amounts; totals per currency; the changes made in the cycle for
its members or into and out of its trusteeship; and, for each member, why
its lines are this payer's (decided_by and held_by, in words).
--format csv gives the item rows; json the whole statement.
`

func cmdInvoice(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons invoice", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	payer := fs.String("payer", "", "the paying account (required)")
	cycle := fs.String("cycle", "", "the billing cycle, YYYY-MM (required)")
	format := fs.String("format", "text", "text, csv or json")
	ver := versionFlag(fs)
	dir, code := dirOnly("invoice", fs, args, stdout, stderr, commandHelp("invoice"))
	if dir == "" {
		return code
	}
	switch {
	case *payer == "" || *cycle == "":
		fmt.Fprintln(stderr, "billcons invoice: --payer and --cycle are required; see billcons invoice --help")
		return exitUsage
	case *format != "text" && *format != "csv" && *format != "json":
		fmt.Fprintf(stderr, "billcons invoice: --format %q: want text, csv or json\n", *format)
		return exitUsage
	}
	if _, err := billing.ParseCycle(*cycle); err != nil {
		fmt.Fprintf(stderr, "billcons invoice: --cycle %q: want YYYY-MM, like 2024-02\n", *cycle)
		return exitUsage
	}
	db, code := openTree(ctx, "invoice", dir, *ver, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	inv, err := db.Invoice(ctx, *payer, *cycle)
	if err != nil {
		fmt.Fprintf(stderr, "billcons invoice: %s: %v\n", dir, err)
		// An account that pays nothing here: the statements that hold its
		// lines, as commands to run.
		var none *query.NoStatementError
		if errors.As(err, &none) {
			for _, p := range none.PaidBy {
				fmt.Fprintf(stderr, "billcons invoice: see billcons invoice %s --payer %s --cycle %s\n", shellQuote(dir), p.Payer, *cycle)
			}
		}
		return exitFailed
	}
	switch *format {
	case "csv":
		err = inv.WriteCSV(stdout)
	case "json":
		err = inv.WriteJSON(stdout)
	default:
		inv.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "billcons invoice: %v\n", err)
		return exitFailed
	}
	return exitOK
}

const exportBody = `--focus writes the bills of the output tree DIR (its latest version, or
version V) as FOCUS 1.2 (the focus view) to the Parquet file OUT, replacing
it whole. Where the input lacks a value FOCUS requires (usage_quantity and
usage_unit on usage and purchases; account_name once the accounts have
names), it writes nothing and exits 1 naming the column and the rows;
--lenient writes the file anyway, with one warning per column.

--payer writes the consolidated bill of one paying account, for handing to
it, as files of its own: for each of its cycles (or only --cycle),
OUT/billing_cycle=C/ holds bills.parquet (its lines, with billing_cycle and
payer_account_id as columns) and its statement as statement.txt,
statement.csv and statement.json (what billcons invoice prints). With
--payer all, every payer's, into OUT/payer_account_id=ID/billing_cycle=C/.
OUT must be absent or an empty folder; it appears whole when done.

OUT must be outside every billcons tree (exit 2 otherwise).
`

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("billcons export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	focus := fs.Bool("focus", false, "export FOCUS 1.2")
	payer := fs.String("payer", "", "export this paying account's bills and statements, or every payer's with all")
	cycle := fs.String("cycle", "", "with --payer: only this billing cycle, YYYY-MM")
	lenient := fs.Bool("lenient", false, "with --focus: write the file even where the input lacks values FOCUS requires, with one warning per column")
	ver := versionFlag(fs)
	pos, err := parseAll(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, commandHelp("export"))
			return exitOK
		}
		fmt.Fprintf(stderr, "billcons export: %v; see billcons export --help\n", err)
		return exitUsage
	}
	if *focus == (*payer != "") || len(pos) != 2 {
		fmt.Fprintln(stderr, "billcons export: want billcons export --focus DIR OUT, or billcons export --payer ID|all [--cycle YYYY-MM] DIR OUT")
		return exitUsage
	}
	if *cycle != "" {
		if *payer == "" {
			fmt.Fprintln(stderr, "billcons export: --cycle goes with --payer")
			return exitUsage
		}
		if _, err := billing.ParseCycle(*cycle); err != nil {
			fmt.Fprintf(stderr, "billcons export: --cycle %q: want YYYY-MM\n", *cycle)
			return exitUsage
		}
	}
	dir, out := pos[0], pos[1]
	if st, err := os.Stat(out); err == nil && st.IsDir() && *focus {
		fmt.Fprintf(stderr, "billcons export: %s is a folder: --focus writes one Parquet file; name the file, e.g. %s\n", out, filepath.Join(out, "focus.parquet"))
		return exitUsage
	}
	if err := outsideTrees("OUT", out); err != nil {
		fmt.Fprintf(stderr, "billcons export: %v\n", err)
		return exitUsage
	}
	db, code := openTree(ctx, "export", dir, *ver, stderr)
	if db == nil {
		return code
	}
	defer db.Close()
	if *payer != "" {
		var payers []string // every payer's
		if *payer != "all" {
			payers = []string{*payer}
		}
		last := time.Now()
		res, err := db.ExportPayers(ctx, payers, *cycle, out, runtime.NumCPU(), func(done, total int) {
			if time.Since(last) > 10*time.Second {
				last = time.Now()
				fmt.Fprintf(stderr, "billcons export: %d of %d payers written\n", done, total)
			}
		})
		if err = signalled(err, "; nothing written, "+out+" left as it was"); err != nil {
			fmt.Fprintf(stderr, "billcons export: %v\n", err)
			return exitFailed
		}
		fmt.Fprintf(stderr, "billcons: wrote %s of %s (%s) to %s\n", query.Plural(int64(res.Statements), "statement"),
			query.Plural(int64(res.Payers), "payer"), query.Plural(res.Lines, "line"), out)
		return exitOK
	}
	n, gaps, err := db.ExportFOCUS(ctx, out, *lenient)
	if err != nil {
		fmt.Fprintf(stderr, "billcons export: %v\n", err)
		return exitFailed
	}
	for _, g := range gaps {
		fmt.Fprintf(stderr, "billcons export: warning: %s; written anyway (--lenient)\n", g)
	}
	fmt.Fprintf(stderr, "billcons: wrote %d FOCUS rows to %s\n", n, out)
	return exitOK
}

// openTree opens version ver of the tree dir (0: its latest) for a query
// command; on failure it says why in one line and returns nil and the
// exit status.
func openTree(ctx context.Context, name, dir string, ver int64, stderr io.Writer) (*query.DB, int) {
	dir, err := readableAt(ctx, dir, ver)
	if err != nil {
		fmt.Fprintf(stderr, "billcons: %v\n", err)
		return nil, exitFailed
	}
	db, err := query.Open(ctx, dir)
	if err != nil {
		fmt.Fprintf(stderr, "billcons %s: %v\n", name, err)
		return nil, exitFailed
	}
	return db, exitOK
}

// dirOnly is dirFirst for a command that takes the tree and nothing else:
// a further argument is a usage error. It returns "" and the exit status
// when the command should end.
func dirOnly(name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, help string) (string, int) {
	dir, rest, code := dirFirst(name, fs, args, stdout, stderr, help)
	if dir != "" && len(rest) > 0 {
		fmt.Fprintf(stderr, "billcons %s: unexpected argument %q; see billcons %s --help\n", name, rest[0], name)
		return "", exitUsage
	}
	return dir, code
}

// dirFirst parses "DIR [flags] [args]" or "[flags] DIR [args]": the tree may
// come before or after the flags. It returns "" and the exit status when
// the command should end (help, or a usage error).
func dirFirst(name string, fs *flag.FlagSet, args []string, stdout, stderr io.Writer, help string) (string, []string, int) {
	rest, err := parseAll(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, help)
			return "", nil, exitOK
		}
		fmt.Fprintf(stderr, "billcons %s: %v; see billcons %s --help\n", name, err, name)
		return "", nil, exitUsage
	}
	if len(rest) == 0 {
		fmt.Fprintf(stderr, "billcons %s: want the output tree: billcons %s DIR ...\n", name, name)
		return "", nil, exitUsage
	}
	return rest[0], rest[1:], exitOK
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain
// path characters.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-:=+@", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// tablesSQL lists the views, for .tables.
const tablesSQL = "SELECT view_name AS view FROM duckdb_views() WHERE NOT internal ORDER BY 1"

// printAll runs each statement of sql in turn and prints each result (a
// table's results apart by a blank line), stopping at the first error.
// .tables alone is the views' list.
func printAll(ctx context.Context, db *query.DB, w io.Writer, format, sql string, allowWrites bool) error {
	for i, stmt := range query.Statements(sql) {
		if stmt == ".tables" {
			stmt = tablesSQL
		}
		if err := db.CheckWrites(ctx, stmt, allowWrites); err != nil {
			return err
		}
		if i > 0 && format == query.Table {
			fmt.Fprintln(w)
		}
		if _, err := db.Print(ctx, w, format, stmt); err != nil {
			return err
		}
	}
	return nil
}
