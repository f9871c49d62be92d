package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// StateFile is the name of the file `gorocketctl local up` writes in its directory so that
// `gorocketctl local down` can find the processes.
const StateFile = "cluster.json"

// ProcState identifies one running process.
type ProcState struct {
	Name string `json:"name"`
	Pid  int    `json:"pid"`
	Path string `json:"path"` // executable, checked before signalling (pids are reused)
}

// State describes a running local cluster.
type State struct {
	LauncherPid  int         `json:"launcherPid"`
	LauncherPath string      `json:"launcherPath"`
	NamesrvAddrs []string    `json:"namesrvAddrs"`
	Procs        []ProcState `json:"procs"`
}

// State returns the cluster's processes, for WriteState.
func (c *Cluster) State() State {
	self, _ := os.Executable()
	st := State{LauncherPid: os.Getpid(), LauncherPath: self, NamesrvAddrs: c.Layout.NamesrvAddrs()}
	for _, p := range c.Procs() {
		if p.Running() {
			st.Procs = append(st.Procs, ProcState{Name: p.Name, Pid: p.Pid(), Path: p.Path})
		}
	}
	return st
}

// WriteState writes st to dir/StateFile atomically.
func WriteState(dir string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("launcher: encode state: %w", err)
	}
	return writeFileAtomic(filepath.Join(dir, StateFile), append(b, '\n'))
}

// ReadState reads dir/StateFile.
func ReadState(dir string) (State, error) {
	var st State
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return st, fmt.Errorf("launcher: read state: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("launcher: decode %s: %w", filepath.Join(dir, StateFile), err)
	}
	return st, nil
}

// RemoveState deletes dir/StateFile (ignoring a missing file).
func RemoveState(dir string) error {
	if err := os.Remove(filepath.Join(dir, StateFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("launcher: %w", err)
	}
	return nil
}

// alive reports whether pid runs the executable path (and is not a zombie).
func alive(pid int, path string) bool {
	if pid <= 0 {
		return false
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe")
	if err != nil {
		return false
	}
	if path != "" {
		want, err := filepath.EvalSymlinks(path)
		if err != nil {
			want = path
		}
		if exe != want && exe != path {
			return false
		}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' {
			return i+2 < len(b) && b[i+2] != 'Z'
		}
	}
	return false
}

// StopState stops the cluster st describes: it asks the launcher (if it still runs) to shut
// down, which stops its children in order; processes still alive after grace are sent SIGTERM
// directly and, after another grace, SIGKILL. It returns the names of the processes that were
// running when it started.
func StopState(ctx context.Context, st State, grace time.Duration) ([]string, error) {
	var running []string
	for _, p := range st.Procs {
		if alive(p.Pid, p.Path) {
			running = append(running, p.Name)
		}
	}
	launcher := alive(st.LauncherPid, st.LauncherPath) && st.LauncherPid != os.Getpid()
	allGone := func() bool {
		if launcher && alive(st.LauncherPid, st.LauncherPath) {
			return false
		}
		for _, p := range st.Procs {
			if alive(p.Pid, p.Path) {
				return false
			}
		}
		return true
	}
	wait := func(d time.Duration) bool {
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		for !allGone() {
			if poll(wctx, nil, 50*time.Millisecond) != nil {
				return allGone()
			}
		}
		return true
	}
	if launcher {
		_ = syscall.Kill(st.LauncherPid, syscall.SIGTERM)
		if wait(grace + 5*time.Second) {
			return running, nil
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		for _, p := range st.Procs {
			if alive(p.Pid, p.Path) {
				_ = syscall.Kill(-p.Pid, sig) // the daemons lead their own process groups
			}
		}
		if wait(grace) {
			return running, nil
		}
	}
	var left []string
	for _, p := range st.Procs {
		if alive(p.Pid, p.Path) {
			left = append(left, fmt.Sprintf("%s (pid %d)", p.Name, p.Pid))
		}
	}
	return running, fmt.Errorf("launcher: processes still running after SIGKILL: %v", left)
}

// LauncherRunning reports whether the launcher process st records is still running.
func (st State) LauncherRunning() bool {
	return st.LauncherPid != os.Getpid() && alive(st.LauncherPid, st.LauncherPath)
}
