package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// command is a row of the command table: it drives dispatch (Main), the
// general help (usageText), each command's help (commandHelp: billcons help
// NAME and NAME --help print the same text), and the tests that the
// README's and docs' synopses are these.
type command struct {
	name string
	// synopsis is the command's usage lines, as help prints them.
	synopsis string
	// summary says what the command does, for the general help.
	summary string
	// body is the help text after the synopsis; family names the commands
	// that share it (and show each other's synopses).
	body, family string
	run          func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands is the command table, in the order the general help lists them.
var commands []command

func init() {
	commands = []command{
		{name: "run", synopsis: `  billcons run --usage PATH [--usage PATH ...] --changes PATH [--accounts PATH]
               --out DIR [--timing end-time|next-period] [--tz ZONE]
               [--discounts PATH] [--credits PATH] [--enterprises PATH]
               [--balances PATH] [--profile billcons|alibaba] [--currency CODE]
               [--max-reject-ratio R] [--max-cycle-drop R] [--accept-missing]
               [--guard-report FILE] [--keep N] [--jobs N] [--wait[=DURATION]]
               [--restate YYYY-MM] [--store-retry D] [--log-format text|json]
               [--quiet]`,
			summary: "read bill lines and trusteeship changes, decide who pays each line,\nand publish the result as a new version of the tree DIR",
			body:    runBody, family: "", run: cmdRun},
		{name: "verify", synopsis: `  billcons verify DIR [--inputs] [--version V]`,
			summary: "re-check a finished output tree from its files alone; with\n--inputs, also whether its inputs changed since",
			body:    verifyBody, family: "", run: cmdVerify},
		{name: "report", synopsis: `  billcons report DIR [--format table|csv|json] [--version V]`,
			summary: "print per billing cycle and paying account the list amount,\ndiscounts, credits and the amount due, read back from the summary",
			body:    reportBody, family: "", run: cmdReport},
		{name: "query", synopsis: `  billcons query DIR [--format table|csv|json] [--allow-writes] [--version V] [SQL]`,
			summary: "run SQL (DuckDB, in process) over DIR's views (bills, summary, focus\nand the rest: billcons help query); a prompt without SQL",
			body:    queryBody, family: "", run: cmdQueryMain},
		{name: "invoice", synopsis: `  billcons invoice DIR --payer ID --cycle YYYY-MM [--format text|csv|json] [--version V]`,
			summary: "the consolidated statement of one payer for one billing cycle,\nwith the changes that moved its members, explained",
			body:    invoiceBody, family: "", run: cmdInvoice},
		{name: "export", synopsis: `  billcons export --focus DIR OUT [--lenient] [--version V]
  billcons export --payer ID|all [--cycle YYYY-MM] DIR OUT [--version V]`,
			summary: "write DIR's bills as FOCUS 1.2 Parquet, or one payer's bill and\nstatement as files of its own",
			body:    exportBody, family: "", run: cmdExport},
		{name: "versions", synopsis: `  billcons versions DIR [--format table|csv|json]`,
			summary: "list the kept versions of DIR",
			body:    versionsBody, family: "", run: cmdVersions},
		{name: "diff", synopsis: `  billcons diff DIR [--from V] [--to V] [--lines] [--format table|csv|json] [--exit-code]`,
			summary: "what changed between two versions, per cycle, payer and currency",
			body:    diffBody, family: "", run: cmdDiff},
		{name: "rollback", synopsis: `  billcons rollback DIR V [--keep N] [--wait[=DURATION]]`,
			summary: "publish an earlier version's content as the new latest version",
			body:    rollbackBody, family: "", run: cmdRollback},
		{name: "close", synopsis: `  billcons close DIR --cycle YYYY-MM [--keep N] [--wait[=DURATION]]`,
			summary: "close a billing cycle once its invoices are issued: invoice ids,\nand from then on late data becomes corrections in the next cycle",
			body:    closeBody, family: "", run: cmdClose},
		{name: "gc", synopsis: `  billcons gc DIR|URL [--keep N] [--grace D] [--dry-run] [--store-retry D] [--wait[=DURATION]]`,
			summary: "remove what the kept versions no longer need: versions beyond --keep,\nfinished runs' intermediates, incomplete uploads",
			body:    gcBody, family: "", run: cmdGC},
		{name: "plan", synopsis: `  billcons plan   --out URL --shards N [--splits K] <the inputs and options of run>`,
			summary: "plan a run as shards on many machines: its inputs, split among N\nshards, recorded under --out URL",
			body:    shardsBody, family: "shards", run: cmdPlan},
		{name: "split", synopsis: `  billcons split  --out URL [--index I] [--store-retry D]`,
			summary: "cut the plan's inputs into the shards' parts (one split of K)",
			body:    shardsBody, family: "shards", run: cmdSplit},
		{name: "shard", synopsis: `  billcons shard  --out URL [--index I] [--store-retry D]`,
			summary: "run one shard of the plan",
			body:    shardsBody, family: "shards", run: cmdShard},
		{name: "commit", synopsis: `  billcons commit --out URL [--store-retry D]`,
			summary: "publish the shards' outputs as one version, as billcons run would",
			body:    shardsBody, family: "shards", run: cmdCommit},
		{name: "gen", synopsis: `  billcons gen --lines N --out DIR [--seed S] [--format parquet|csv]
               [--members M] [--management K] [--cycles C] [--late N] [--quiet]`,
			summary: "write a realistic, deterministic dataset of any size",
			body:    genBody, family: "", run: cmdGen},
		{name: "version", synopsis: `  billcons version`,
			summary: "print the program version",
			body:    "", family: "", run: cmdVersion},
		{name: "help", synopsis: `  billcons help [COMMAND]`,
			summary: "the commands, or one command's options, inputs and rules",
			body:    "", family: "", run: cmdHelp},
	}
}

// lookup returns the command named name, or nil.
func lookup(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// commandHelp is what billcons help NAME and billcons NAME --help print
// before the options: the synopsis (of every command of its family) and
// the body.
func commandHelp(name string) string {
	c := lookup(name)
	var b strings.Builder
	b.WriteString("Usage:\n")
	for _, o := range commands {
		if o.name == c.name || (c.family != "" && o.family == c.family) {
			b.WriteString(o.synopsis + "\n")
		}
	}
	if c.body != "" {
		b.WriteString("\n" + c.body)
	}
	return b.String()
}

// usageText is the general help: every synopsis, what each command does,
// and the exit statuses.
func usageText() string {
	var b strings.Builder
	b.WriteString("billcons consolidates cloud bills under financial trusteeship.\n\nUsage:\n")
	for _, c := range commands {
		b.WriteString(c.synopsis + "\n")
	}
	b.WriteString("\nCommands:\n")
	for _, c := range commands {
		for i, l := range strings.Split(c.summary, "\n") {
			if i == 0 {
				fmt.Fprintf(&b, "  %-9s%s\n", c.name, l)
			} else {
				fmt.Fprintf(&b, "  %-9s%s\n", "", l)
			}
		}
	}
	b.WriteString("\n" + exitText + "\n")
	b.WriteString(`Run "billcons help COMMAND" (or billcons COMMAND --help) for a command's
options; "billcons help run" for the inputs, the rules, the output tree and
the guards.
`)
	return b.String()
}

const exitText = `Exit status:
  0  the command completed (rejected rows do not fail a run, within the guards)
  1  it could not: unreadable input, a required column missing, no space,
     another run holding DIR, DIR not a billcons tree, or verify found a problem
  2  usage error: an unknown command, flag or value; an input inside --out;
     an export or report file inside a tree
  3  a data-quality limit (a guard) tripped: too many rejected rows, or data
     the latest version had that tonight's inputs lost; nothing published,
     DIR keeps its latest version
  4  diff --exit-code: the versions differ
`

// cmdVersion prints the program version.
func cmdVersion(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if args[0] == "--help" || args[0] == "-h" {
			fmt.Fprint(stdout, commandHelp("version"))
			return exitOK
		}
		fmt.Fprintf(stderr, "billcons version: unexpected argument %q\n", args[0])
		return exitUsage
	}
	fmt.Fprintln(stdout, "billcons", version)
	return exitOK
}

// cmdHelp prints the general help, or a command's: what its --help prints.
// An unknown command is a usage error (exit 2).
func cmdHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usageText())
		return exitOK
	}
	c := lookup(args[0])
	switch {
	case args[0] == "--help" || args[0] == "-h":
		fmt.Fprint(stdout, commandHelp("help"))
		return exitOK
	case c == nil:
		fmt.Fprintf(stderr, "billcons help: unknown command %q; run \"billcons help\"\n", args[0])
		return exitUsage
	case c.name == "help":
		fmt.Fprint(stdout, commandHelp("help"))
		return exitOK
	}
	return c.run(ctx, []string{"--help"}, stdout, stderr)
}

// cmdQueryMain is billcons query, reading statements from standard input
// when it has no SQL.
func cmdQueryMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return cmdQuery(ctx, args, stdin, stdout, stderr)
}
