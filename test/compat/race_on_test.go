//go:build race

package compat

// raceEnabled is true when the suite was built with -race. rocketmq-client-go v2.1.2 has data
// races of its own (e.g. consumer/process_queue.go: processQueue's tree map is read by the
// orderly consume goroutine while the pull goroutine writes it), so under -race TestMain re-runs
// the suite in a child `go test` built without -race (see delegateWithoutRace). The gorocket
// code under test runs in separate broker/nameserver processes either way.
const raceEnabled = true
