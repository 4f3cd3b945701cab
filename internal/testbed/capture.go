package testbed

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// captureReady bounds the wait for tcpdump to start listening.
const captureReady = 5 * time.Second

// Capture runs tcpdump on iface in role's namespace, writing every packet
// (optionally only those matching the pcap filter words) to file as it
// arrives, and returns once tcpdump listens. Stop the returned process to
// end the capture; Close does it otherwise.
func (b *Bed) Capture(role, iface, file string, filter ...string) (*Proc, error) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		return nil, fmt.Errorf("testbed: %w: tcpdump", ErrMissingCommand)
	}
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, fmt.Errorf("testbed: %w", err)
	}
	// --immediate-mode and -U: every packet reaches the file at once, so a
	// capture stopped right after the traffic has it all. -Z root: stay
	// root, so the file can be written into private temporary directories.
	args := append([]string{"-i", iface, "-n", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", file}, filter...)
	p, err := b.Start(role, "tcpdump", args...)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(captureReady)
	for !strings.Contains(p.Output(), "listening on") {
		if done, _ := p.Exited(); done {
			return nil, fmt.Errorf("testbed: tcpdump on %s %s exited: %s", role, iface, strings.TrimSpace(p.Output()))
		}
		if time.Now().After(deadline) {
			_ = p.Stop()
			return nil, fmt.Errorf("testbed: tcpdump on %s %s did not start within %v: %s",
				role, iface, captureReady, strings.TrimSpace(p.Output()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p, nil
}
