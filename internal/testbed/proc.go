package testbed

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
const StopTimeout = 3 * time.Second

// Proc is a background process running in one of the bed's namespaces.
type Proc struct {
	Role string // the namespace's role
	Name string // the command's base name

	cmd  *exec.Cmd
	out  *buffer
	file *os.File
	done chan struct{}
	err  error // set before done closes

	stopOnce sync.Once
	stopErr  error
}

// Start runs name with args in role's namespace in the background. Its
// standard output and error are kept (Output) and, with Options.LogDir,
// written to <role>-<base name>.log there. The process runs in its own
// process group, so a Ctrl-C at the terminal reaches the caller only, and it
// receives SIGTERM if the caller dies; Close stops it by its PID.
func (b *Bed) Start(role, name string, args ...string) (*Proc, error) {
	return b.start(role, nil, name, args...)
}

func (b *Bed) start(role string, tee io.Writer, name string, args ...string) (*Proc, error) {
	// Holding the lock across the start means Close either sees the
	// process or makes the start fail: nothing escapes it.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errors.New("testbed: start on a closed bed")
	}
	p := &Proc{Role: role, Name: filepath.Base(name), out: &buffer{}, done: make(chan struct{})}
	var w io.Writer = p.out
	if b.opts.LogDir != "" {
		f, err := os.OpenFile(filepath.Join(b.opts.LogDir, role+"-"+p.Name+".log"),
			os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("testbed: %w", err)
		}
		p.file = f
		w = io.MultiWriter(w, f)
	}
	if tee != nil {
		w = io.MultiWriter(w, tee)
	}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", b.NS(role), name}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = w, w
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		if p.file != nil {
			p.file.Close()
		}
		return nil, fmt.Errorf("testbed: start %s in %s: %w", name, role, err)
	}
	b.log.Info("testbed: started", "role", role, "cmd", p.Name, "pid", p.cmd.Process.Pid)
	go func() {
		p.err = p.cmd.Wait()
		if p.file != nil {
			p.file.Close()
		}
		close(p.done)
	}()
	b.procs = append(b.procs, p)
	return p, nil
}

// PID returns the process id. `ip netns exec` replaces itself with the
// command, so this is the command's own PID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Output returns everything the process has written so far.
func (p *Proc) Output() string { return p.out.String() }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its wait error.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Stop sends SIGTERM, and SIGKILL if the process is still there after
// StopTimeout. It returns an error only when SIGKILL was needed; an exit
// status of the process itself is available from Exited.
func (p *Proc) Stop() error {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(StopTimeout):
		}
		_ = p.cmd.Process.Kill()
		<-p.done
		p.stopErr = fmt.Errorf("testbed: %s in %s (pid %d) ignored SIGTERM for %v and was killed",
			p.Name, p.Role, p.PID(), StopTimeout)
	})
	return p.stopErr
}

// Signal sends sig to the process (SIGHUP to make a daemon reload, say).
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// buffer is a bytes.Buffer safe for concurrent writers and readers.
type buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lineWriter calls fn with each complete line written to it.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	fn      func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.partial[:i]), "\r")
		w.partial = w.partial[i+1:]
		w.fn(line)
	}
	return len(p), nil
}
