package launcher

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// ErrNotRunning is returned when signalling a process that is not running.
var ErrNotRunning = errors.New("launcher: process not running")

// Proc is one child daemon. It runs in its own process group (so a terminal's Ctrl-C reaches only
// the launcher, which then shuts children down in order) and receives SIGKILL if the launcher
// dies (Pdeathsig), so no child outlives it. Its stdout and stderr are appended to LogPath.
// A Proc can be started again after it exited (Restart).
type Proc struct {
	Name    string   // e.g. "namesrv-0", "broker-a-0"
	Path    string   // executable
	Args    []string // arguments, without the program name
	Dir     string   // working directory
	LogPath string   // stdout+stderr, appended
	Env     []string // extra environment (KEY=VALUE) on top of the launcher's

	log *slog.Logger

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when the current run has exited
	waitErr error
	logFile *os.File
	starts  int
}

// NewProc returns an unstarted process description.
func NewProc(log *slog.Logger, name, path string, args []string, dir, logPath string) *Proc {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Proc{Name: name, Path: path, Args: args, Dir: dir, LogPath: logPath, log: log}
}

// Start launches the process. It fails if the process is already running.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("launcher: start %s: already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	lf, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("launcher: start %s: open log: %w", p.Name, err)
	}
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Dir = p.Dir
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.Stdin = nil
	if len(p.Env) > 0 {
		cmd.Env = append(os.Environ(), p.Env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return fmt.Errorf("launcher: start %s (%s): %w", p.Name, p.Path, err)
	}
	p.starts++
	done := make(chan struct{})
	p.cmd, p.done, p.waitErr, p.logFile = cmd, done, nil, lf
	p.log.Info("process started", "name", p.Name, "pid", cmd.Process.Pid, "log", p.LogPath)
	go func() {
		err := cmd.Wait()
		lf.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
		p.log.Info("process exited", "name", p.Name, "pid", cmd.Process.Pid, "status", exitStatus(err))
	}()
	return nil
}

// Pid returns the pid of the current (or last) run, 0 if never started.
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Starts returns how many times the process was started.
func (p *Proc) Starts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.starts
}

// Done returns a channel closed when the current run exits (a closed channel if never started).
func (p *Proc) Done() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return p.done
}

// Running reports whether the current run has not exited yet.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// ExitErr returns the result of the last run's Wait (nil for exit status 0, or while running).
func (p *Proc) ExitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waitErr
}

// Signal sends sig to the process group of the current run.
func (p *Proc) Signal(sig syscall.Signal) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return ErrNotRunning
	}
	// Negative pid: the whole group (the child is its leader, see Setpgid).
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		// No such group (the child may have left it): signal the process itself.
		err = syscall.Kill(cmd.Process.Pid, sig)
	}
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("launcher: signal %s to %s: %w", sig, p.Name, err)
	}
	return nil
}

// Stop sends SIGTERM and waits up to grace for the process to exit, then sends SIGKILL and waits
// for it. It returns nil when the process is gone (whatever its exit status) and reports whether it
// had to be killed.
func (p *Proc) Stop(grace time.Duration) (killed bool, err error) {
	done := p.Done()
	if err := p.Signal(syscall.SIGTERM); err != nil {
		if errors.Is(err, ErrNotRunning) {
			<-done
			return false, nil
		}
		return false, err
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
		return false, nil
	case <-t.C:
	}
	p.log.Warn("process did not exit after SIGTERM, killing", "name", p.Name, "grace", grace)
	if err := p.Kill(); err != nil {
		return true, err
	}
	return true, nil
}

// Kill sends SIGKILL to the process group and waits for the process to exit.
func (p *Proc) Kill() error {
	done := p.Done()
	if err := p.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, ErrNotRunning) {
		return err
	}
	<-done
	return nil
}

// LogTail returns up to the last n bytes of the log file, for error reports.
func (p *Proc) LogTail(n int64) string {
	return fileTail(p.LogPath, n)
}

func fileTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(st.Size()-n, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
	if err != nil {
		return ""
	}
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}

func isClosed(c chan struct{}) bool {
	if c == nil {
		return true
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func exitStatus(err error) string {
	if err == nil {
		return "exit 0"
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return "signal " + ws.Signal().String()
		}
		return fmt.Sprintf("exit %d", ee.ExitCode())
	}
	return err.Error()
}
