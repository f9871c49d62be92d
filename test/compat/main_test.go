// Package compat runs the unmodified Apache rocketmq-client-go v2.1.2 against gorocket
// nameserver and broker processes that the suite builds and starts itself (loopback only,
// random ports, temporary stores). Run with: go test -race ./test/compat/ (skipped by -short).
package compat

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/apache/rocketmq-client-go/v2/rlog"

	"github.com/gorocket/gorocket/remoting"
)

var workDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("compat: process-level suite skipped in -short mode")
		os.Exit(m.Run())
	}
	if raceEnabled && os.Getenv("GOROCKET_COMPAT_CHILD") == "" {
		os.Exit(delegateWithoutRace())
	}
	os.Exit(setupAndRun(m))
}

// delegateWithoutRace runs this suite again in a `go test` child built without -race and
// relays its output and result (see race_on_test.go for why).
func delegateWithoutRace() int {
	args := []string{"test", "-timeout", "15m"}
	if f := flag.Lookup("test.count"); f != nil && f.Value.String() != "1" {
		args = append(args, "-count", f.Value.String())
	} else {
		args = append(args, "-count=1")
	}
	if f := flag.Lookup("test.run"); f != nil && f.Value.String() != "" {
		args = append(args, "-run", f.Value.String())
	}
	if f := flag.Lookup("test.v"); f != nil && f.Value.String() == "true" {
		args = append(args, "-v")
	}
	args = append(args, ".")
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOROCKET_COMPAT_CHILD=1")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	fmt.Println("compat: built with -race; running the suite without -race because rocketmq-client-go v2.1.2 has internal data races")
	if err := cmd.Run(); err != nil {
		fmt.Println("compat: child run failed:", err)
		return 1
	}
	return 0
}

func setupAndRun(m *testing.M) int {
	rlog.SetLogLevel("error")
	var err error
	workDir, err = os.MkdirTemp("", "gorocket-compat-")
	if err != nil {
		fmt.Println("compat:", err)
		return 1
	}
	// Broadcasting consumers keep offsets under $HOME/.rocketmq_client_go.
	_ = os.Setenv("HOME", filepath.Join(workDir, "home"))
	rawClient = remoting.NewClient(nil, remoting.ClientOptions{})
	defer rawClient.Close()
	if err := buildBinaries(); err != nil {
		fmt.Println("compat:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	sharedNS, err = startNameserver(filepath.Join(workDir))
	if err != nil {
		fmt.Println("compat: start nameserver:", err)
		return 1
	}
	port, err := freePortPair()
	if err != nil {
		fmt.Println("compat:", err)
		return 1
	}
	sharedBrk, err = startBroker(workDir, sharedName,
		brokerConfig(sharedName, port, sharedNS.addr, filepath.Join(workDir, "store-shared"), "maxMessageSize=65536"),
		sharedNS.addr, port)
	if err != nil {
		fmt.Println("compat: start broker:", err)
		fmt.Println(sharedNS.logTail(30))
		_ = sharedNS.stop()
		return 1
	}
	code := m.Run()
	stopTopologies()
	if err := sharedBrk.stop(); err != nil {
		fmt.Println("compat: broker stop:", err)
		code = 1
	}
	if !sharedBrk.logContains("unregistered from nameserver") {
		fmt.Println("compat: broker did not unregister on SIGTERM\n" + sharedBrk.logTail(20))
		code = 1
	}
	if err := sharedNS.stop(); err != nil {
		fmt.Println("compat: nameserver stop:", err)
	}
	if code == 0 {
		_ = os.RemoveAll(workDir)
	} else {
		fmt.Println("compat: logs kept in", workDir)
	}
	return code
}

// requireCluster skips in -short mode.
func requireCluster(t *testing.T) {
	t.Helper()
	if sharedBrk == nil {
		t.Skip("process-level compatibility suite skipped (-short)")
	}
}
