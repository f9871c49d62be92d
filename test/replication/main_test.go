// Package replication runs master/slave clusters of real gorocket-namesrv and gorocket-broker
// processes (built by the test, loopback only, random free ports, temporary stores; see
// test/cluster) and checks replication end to end: SYNC_MASTER loses no acknowledged message when
// the master is SIGKILLed, ASYNC_MASTER lag is reported and bounded, slaves catch up after a
// restart, consumers keep consuming from the slave while the master is down, a second broker on the
// same store is refused, and `gorocketctl local up` runs a 2-master/2-slave cluster.
//
// Run with: go test -race ./test/replication/ (skipped by -short). Under -race the suite re-runs
// itself in a child built without -race, as test/compat does: rocketmq-client-go v2.1.2, used by
// the real-client tests, has data races of its own. The code under test runs in separate
// processes either way.
package replication

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/gorocket/gorocket/test/cluster"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() && raceEnabled && os.Getenv("GOROCKET_REPLICATION_CHILD") == "" {
		os.Exit(delegateWithoutRace())
	}
	rlog.SetLogLevel("error")
	os.Exit(cluster.RunMain(m))
}

// delegateWithoutRace runs this suite again in a `go test` child built without -race and relays
// its output and result.
func delegateWithoutRace() int {
	args := []string{"test", "-timeout", "15m"}
	if f := flag.Lookup("test.count"); f != nil && f.Value.String() != "1" {
		args = append(args, "-count", f.Value.String())
	} else {
		args = append(args, "-count=1")
	}
	for _, name := range []string{"test.run", "test.bench", "test.benchtime"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" && f.Value.String() != f.DefValue {
			args = append(args, "-"+name[len("test."):], f.Value.String())
		}
	}
	if f := flag.Lookup("test.v"); f != nil && f.Value.String() == "true" {
		args = append(args, "-v")
	}
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOROCKET_REPLICATION_CHILD=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("replication: built with -race; running the suite without -race because rocketmq-client-go v2.1.2 has internal data races")
	if err := cmd.Run(); err != nil {
		fmt.Println("replication: child run failed:", err)
		return 1
	}
	return 0
}
