// Package swantest runs strongSwan's charon as a real IKEv2 peer inside a
// test's network namespace, for the interoperability tests of package ike.
//
// The machine has no ESP in its kernel, so charon runs with the
// kernel-libipsec plugin (userspace ESP over a TUN device, UDP
// encapsulation forced). Several charons run side by side: each is started
// through `ip netns exec`, which gives the process a private mount
// namespace, and a private directory is bind-mounted over /run in it before
// charon is exec'd, so pid files do not collide; STRONGSWAN_CONF points at
// the instance's own strongswan.conf, whose vici socket and log file live in
// the test's temporary directory. Connections are loaded and initiated with
// swanctl over that vici socket.
//
// Everything is removed when the test ends, passed or failed: charon gets
// SIGINT (then SIGKILL) by its own PID, the namespace goes, the mount
// namespace ends with the process. When the test failed, the tail of each
// charon's log is written to the test log.
package swantest

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dynamics-go/dynamics/internal/netnstest"
)

// CharonPath is where Debian installs the IKE daemon.
const CharonPath = "/usr/lib/ipsec/charon"

// Plugins are the charon plugins a Charon loads: crypto for both proposal
// families of the interop tests (AES-CBC + HMAC-SHA2-256, AES-GCM-16,
// MODP-2048, Curve25519, ECP-256 through openssl), X.509 and PEM for
// certificates, userspace ESP (kernel-libipsec), netlink for addresses and
// routes, and vici for swanctl.
const Plugins = "random nonce openssl pem pkcs1 pkcs8 x509 pubkey sha1 sha2 hmac aes gcm curve25519 gmp kdf " +
	"kernel-libipsec kernel-netlink socket-default vici"

// startTimeout bounds the wait for charon's vici socket.
const startTimeout = 10 * time.Second

// Require skips the test unless it runs as root with `ip`, charon and
// swanctl installed.
func Require(t testing.TB) {
	t.Helper()
	netnstest.RequireRoot(t)
	if _, err := os.Stat(CharonPath); err != nil {
		t.Skipf("skipped: strongSwan's charon is not installed at %s (apt-get install strongswan-charon "+
			"strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins libstrongswan-standard-plugins; "+
			".ci/run installs them)", CharonPath)
	}
	netnstest.RequireCommand(t, "swanctl", "strongSwan's control tool, package strongswan-swanctl")
}

// Options configure one charon.
type Options struct {
	// Swanctl is the swanctl.conf text (connections and secrets) loaded
	// after start; empty loads nothing.
	Swanctl string
	// Files are extra files written into the instance directory before
	// start, by name (for example certificates the swanctl.conf names
	// with absolute paths built from Charon.Dir).
	Files map[string][]byte
	// IKELevel is the log level of the IKE subsystem; 4 logs the keys
	// (default 2).
	IKELevel int
	// Settings are extra lines inside the charon { } section of
	// strongswan.conf, for example "retransmit_tries = 2".
	Settings []string
}

// Charon is one running charon.
type Charon struct {
	// Dir is the instance's directory: strongswan.conf, swanctl.conf,
	// charon.log, the vici socket and the private /run.
	Dir string
	// URI is the vici socket's URI for swanctl --uri.
	URI string
	ns  *netnstest.NS
	t   testing.TB
	cmd *exec.Cmd
}

// Start writes the configuration, starts charon in ns, waits for its vici
// socket and loads opts.Swanctl. The test fails if charon does not come up.
func Start(t testing.TB, ns *netnstest.NS, opts Options) *Charon {
	t.Helper()
	Require(t)
	dir, err := os.MkdirTemp("", "swantest")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c := &Charon{Dir: dir, URI: "unix://" + filepath.Join(dir, "charon.vici"), ns: ns, t: t}
	if err := os.Mkdir(filepath.Join(dir, "run"), 0o700); err != nil {
		t.Fatal(err)
	}
	level := opts.IKELevel
	if level == 0 {
		level = 2
	}
	if err := os.WriteFile(filepath.Join(dir, "strongswan.conf"), []byte(c.strongswanConf(level, opts.Settings)), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, b := range opts.Files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	script := fmt.Sprintf("mount --bind %s /run && STRONGSWAN_CONF=%s exec %s",
		filepath.Join(dir, "run"), filepath.Join(dir, "strongswan.conf"), CharonPath)
	cmd, out := ns.Start("sh", "-c", script)
	c.cmd = cmd
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("charon in %s: output:\n%s\nlog (tail):\n%s", ns.Name, out.String(), tail(c.Log(), 80))
		}
	})
	sock := filepath.Join(dir, "charon.vici")
	deadline := time.Now().Add(startTimeout)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon in %s did not open %s within %v:\n%s\n%s", ns.Name, sock, startTimeout, out.String(), c.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if opts.Swanctl != "" {
		c.Load(opts.Swanctl)
	}
	return c
}

func (c *Charon) strongswanConf(level int, settings []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "charon {\n  load_modular = no\n  load = %s\n", Plugins)
	for _, s := range settings {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "  filelog {\n    log {\n      path = %s\n      default = 1\n      ike = %d\n      flush_line = yes\n    }\n  }\n",
		filepath.Join(c.Dir, "charon.log"), level)
	fmt.Fprintf(&b, "  plugins {\n    vici {\n      socket = %s\n    }\n  }\n}\n", c.URI)
	return b.String()
}

// PID is charon's process id (the process started through ip netns exec
// execs the shell, which execs charon).
func (c *Charon) PID() int { return c.cmd.Process.Pid }

// Swanctl runs swanctl against this charon with args and returns its
// combined output.
func (c *Charon) Swanctl(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "swanctl", append(args, "--uri", c.URI)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Load writes conf as the instance's swanctl.conf and loads everything in
// it, failing the test if swanctl fails.
func (c *Charon) Load(conf string) {
	c.t.Helper()
	file := filepath.Join(c.Dir, "swanctl.conf")
	if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
		c.t.Fatal(err)
	}
	if out, err := c.Swanctl("--load-all", "--noprompt", "--file", file); err != nil {
		c.t.Fatalf("swanctl --load-all in %s: %v\n%s", c.ns.Name, err, out)
	}
}

// Initiate asks charon to bring up child (and its IKE SA) and waits for the
// result; the error carries swanctl's output.
func (c *Charon) Initiate(child string) error {
	out, err := c.Swanctl("--initiate", "--child", child, "--timeout", "30")
	if err != nil {
		return fmt.Errorf("swanctl --initiate --child %s: %w\n%s", child, err, out)
	}
	return nil
}

// ListSAs returns `swanctl --list-sas` output.
func (c *Charon) ListSAs() string {
	out, err := c.Swanctl("--list-sas")
	if err != nil {
		return fmt.Sprintf("swanctl --list-sas: %v\n%s", err, out)
	}
	return out
}

// Log returns charon's log so far.
func (c *Charon) Log() string {
	b, err := os.ReadFile(filepath.Join(c.Dir, "charon.log"))
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	return string(b)
}

// ErrTimeout is returned by WaitLog when the text does not appear in time.
var ErrTimeout = errors.New("swantest: timed out")

// WaitLog waits until charon's log matches re, returning the first match's
// submatches.
func (c *Charon) WaitLog(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if m := re.FindStringSubmatch(c.Log()); m != nil {
			return m, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %v waiting for %q in charon's log", ErrTimeout, timeout, re)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitSAs waits until `swanctl --list-sas` output matches every re and
// returns it.
func (c *Charon) WaitSAs(timeout time.Duration, res ...*regexp.Regexp) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		out := c.ListSAs()
		ok := true
		for _, re := range res {
			if !re.MatchString(out) {
				ok = false
				break
			}
		}
		if ok {
			return out, nil
		}
		if time.Now().After(deadline) {
			return out, fmt.Errorf("%w: %v waiting for %v in swanctl --list-sas", ErrTimeout, timeout, res)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Secrets are the IKE keys charon logged at ike level 4 for one IKE SA:
// "Sk_ei secret => 16 bytes @ ..." followed by hex dump lines.
type Secrets map[string][]byte

// LoggedSecrets returns every key charon logged (at IKELevel 4) by name,
// in log order: SK_d, SK_ai, SK_ar, SK_ei, SK_er, SK_pi, SK_pr. A later
// IKE SA's key replaces an earlier one of the same name.
func (c *Charon) LoggedSecrets() Secrets {
	return ParseSecrets(c.Log())
}

var (
	secretLine = regexp.MustCompile(`(Sk_[a-z]+) secret => (\d+) bytes`)
	hexLine    = regexp.MustCompile(`\[IKE\]\s+[0-9]+: ((?:[0-9A-F]{2} )*[0-9A-F]{2})`)
)

// ParseSecrets extracts the keys from a charon log; see LoggedSecrets.
func ParseSecrets(log string) Secrets {
	s := Secrets{}
	sc := bufio.NewScanner(strings.NewReader(log))
	var name string
	var want int
	var buf []byte
	for sc.Scan() {
		line := sc.Text()
		if m := secretLine.FindStringSubmatch(line); m != nil {
			name = strings.Replace(m[1], "Sk_", "SK_", 1)
			fmt.Sscan(m[2], &want)
			buf = nil
			continue
		}
		if name == "" {
			continue
		}
		m := hexLine.FindStringSubmatch(line)
		if m == nil {
			name = ""
			continue
		}
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(m[1]), " ", ""))
		if err != nil {
			name = ""
			continue
		}
		buf = append(buf, b...)
		if len(buf) >= want {
			s[name] = buf[:want]
			name = ""
		}
	}
	return s
}

// Capture runs tcpdump on dev in ns, writing to a pcap file in the test's
// temporary directory, and returns once it listens. stop ends the capture
// (by tcpdump's PID) and returns the file's path.
func Capture(t testing.TB, ns *netnstest.NS, dev string, filter ...string) (stop func() string) {
	t.Helper()
	netnstest.RequireCommand(t, "tcpdump", "to capture the exchanges for tshark")
	file := filepath.Join(t.TempDir(), "capture.pcap")
	args := append([]string{"-i", dev, "-n", "-U", "--immediate-mode", "-s", "0", "-Z", "root", "-w", file}, filter...)
	cmd, out := ns.Start("tcpdump", args...)
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		if time.Now().After(deadline) {
			t.Fatalf("tcpdump in %s did not start: %s", ns.Name, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() string {
		_ = cmd.Process.Signal(os.Interrupt)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(out.String(), "packets captured") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		return file
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Addresses of the two-host topology Pair builds, the ones of the
// strongSwan interop notes: the mobile side ("mn") and the home side ("ha")
// joined by one veth pair, each with an inner address on its loopback that
// the child SA's traffic selectors name.
const (
	MNAddr  = "192.168.100.1"
	HAAddr  = "192.168.100.2"
	MNInner = "10.1.0.1"
	HAInner = "10.2.0.1"
	// MNMoved is the address the mobile side moves to in MOBIKE tests.
	MNMoved = "192.168.100.3"
	// Dev is the veth's name in both namespaces.
	Dev = "eth0"
)

// Pair makes the two namespaces of the interop tests: mn with MNAddr/24 on
// Dev and MNInner/32 on lo, ha with HAAddr/24 and HAInner/32.
func Pair(t testing.TB) (mn, ha *netnstest.NS) {
	t.Helper()
	netnstest.RequireRoot(t)
	mn, ha = netnstest.New(t, "mn"), netnstest.New(t, "ha")
	netnstest.Veth(t, mn, Dev, ha, Dev)
	mn.Addr(Dev, MNAddr+"/24")
	ha.Addr(Dev, HAAddr+"/24")
	mn.Addr("lo", MNInner+"/32")
	ha.Addr("lo", HAInner+"/32")
	return mn, ha
}
