package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/db"
	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/auditsink"
	"github.com/keyport/keyport/internal/kp"
)

// Exit codes of `keyport audit verify --witness` (docs/auditing.md). When
// several apply, the smallest wins; 2 is usage, as everywhere.
const (
	exitBroken         = 1 // the chain or a checkpoint fails on its own (as without --witness)
	exitWitnessMissing = 3 // the witness holds events the database lacks
	exitWitnessDiffers = 4 // events whose hash differs from the witness's
	exitWitnessBehind  = 5 // the witness lags the database by more than --max-lag events
	exitWitnessUnread  = 6 // the witness could not be read
)

const witnessHelp = `

verify --witness URL compares the trail with a copy that left the database:
  file:///path  the file sink's JSON lines, with the copies log rotation left beside it
                (path.1, path.2.gz, path-YYYYMMDD…)
  https://…     a GET answering records (JSON lines, the HTTPS sink's arrays, Splunk HEC envelopes);
                --witness-token-file sends a bearer token
It names the ids of events the witness holds that the database lacks, of events whose
hash differs, and how far the witness lags; the result is stored for the Integrity page
and recorded as an audit event. Exit status:
  0  verified, and the witness agrees (at most --max-lag events behind)
  1  the chain or a checkpoint is broken on its own (or Keyport could not check)
  2  usage or configuration
  3  the witness holds events the database lacks (a truncated or rolled-back tail)
  4  events whose hash in the database differs from the witness's
  5  the witness is behind the database by more than --max-lag events
  6  the witness could not be read
When several apply, the smallest code is the exit status.`

// witnessFlags are verify's --witness flags.
type witnessFlags struct {
	url       *string
	maxLag    *int64
	tokenFile *string
}

func registerWitness(fs *flag.FlagSet) witnessFlags {
	return witnessFlags{
		url:       fs.String("witness", "", "verify: also compare with this copy of the trail (file:///path or https://…)"),
		maxLag:    fs.Int64("max-lag", 0, "verify --witness: how many events the witness may lag before the exit status is 5"),
		tokenFile: fs.String("witness-token-file", "", "verify --witness https://…: file holding a bearer token for the GET"),
	}
}

// auditVerifyWitness runs after the plain verification (chain): it reads
// the witness, compares, prints the ids, stores and audits the result, and
// returns the exit status.
func auditVerifyWitness(ctx context.Context, e env, pool *pgxpool.Pool, w *audit.Writer, chain audit.Report, f witnessFlags) error {
	if *f.maxLag < 0 {
		return usageError(fmt.Errorf("audit verify: --max-lag must be 0 or more"))
	}
	token, err := auditsink.ReadToken(*f.tokenFile)
	if err != nil {
		return usageError(err)
	}
	// The witness is read before the database's head, so everything it
	// holds was in the database by then, had nobody removed it.
	wit, err := auditsink.ReadWitness(ctx, *f.url, auditsink.WitnessOptions{Token: token})
	if err != nil {
		return &exitError{code: exitWitnessUnread, err: fmt.Errorf("keyport: %w", err)}
	}
	fmt.Fprintf(e.stdout, "witness %s: %d file(s), %d records, %d distinct events\n", wit.Display, len(wit.Files), wit.Records, len(wit.Events))
	if wit.RejectedN > 0 {
		fmt.Fprintf(e.stdout, "%d lines or records of the witness were left out (not records, or not matching their own hash):\n", wit.RejectedN)
		for _, r := range wit.Rejected {
			fmt.Fprintln(e.stdout, "  "+r)
		}
	}
	rep, err := audit.CompareWitness(ctx, pool, wit.Events)
	if err != nil {
		return err
	}
	fmt.Fprint(e.stdout, rep.Summary())
	if len(rep.Missing) > 0 {
		fmt.Fprintln(e.stdout, "missing ids:", joinIDs(rep.Missing))
	}
	if len(rep.Differs) > 0 {
		fmt.Fprintln(e.stdout, "differing ids:", joinIDs(rep.Differs))
	}
	status, code := rep.Status(*f.maxLag), 0
	if !chain.OK() {
		status = audit.WitnessBroken
	}
	switch status {
	case audit.WitnessBroken:
		code = exitBroken
	case audit.WitnessMissing:
		code = exitWitnessMissing
	case audit.WitnessDiffers:
		code = exitWitnessDiffers
	case audit.WitnessBehind:
		code = exitWitnessBehind
	}
	check := &db.WitnessCheck{CheckedAt: time.Now().UTC(), CheckedBy: cliAuditActor(e).Name, Source: wit.Display, Status: status,
		WitnessEvents: int64(len(wit.Events)), WitnessFirst: rep.WitnessFirst, WitnessLast: rep.WitnessLast, DBHead: rep.DBHead,
		Missing: int64(len(rep.Missing)), MissingIDs: audit.Ranges(rep.Missing), Differs: int64(len(rep.Differs)),
		DiffersIDs: audit.Ranges(rep.Differs), Behind: rep.Behind, Chain: chain.String()}
	fmt.Fprintf(e.stdout, "witness check: %s (exit %d)\n", status, code)
	if err := w.RecordWitnessCheck(ctx, cliAuditActor(e), check); err != nil {
		return &exitError{code: max(code, 1), err: fmt.Errorf("keyport: the check could not be recorded: %w", err)}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// cliAuditActor is who the trail records for `keyport audit` commands.
func cliAuditActor(e env) audit.Actor {
	actor := audit.Actor{Kind: kp.ActorSystem, UserID: "keyport audit", Name: "command line"}
	if u := e.getenv("USER"); u != "" {
		actor.Name = "command line, OS user " + u
	}
	return actor
}

func joinIDs(ids []int64) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return b.String()
}

// actionLast moves a leading action after the flags, so `audit verify
// --witness URL` parses as well as `audit --witness URL verify` (package
// flag stops at the first argument that is not a flag).
func actionLast(args []string) []string {
	if len(args) < 2 || strings.HasPrefix(args[0], "-") {
		return args
	}
	return append(append([]string{}, args[1:]...), args[0])
}
