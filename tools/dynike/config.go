package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
	"github.com/dynamics-go/dynamics/libdynamics/ike"
	"github.com/dynamics-go/dynamics/libdynamics/secure"
)

// fileConfig is dynike's configuration file, in the Dynamics format.
type fileConfig struct {
	Role          string        `dyn:"Role,default=initiator"`
	LocalAddress  netip.Addr    `dyn:"LocalAddress,required"`
	RemoteAddress netip.Addr    `dyn:"RemoteAddress"`
	LocalID       string        `dyn:"LocalID"`
	RemoteID      string        `dyn:"RemoteID"`
	PSK           string        `dyn:"PSK"`
	PSKHex        []byte        `dyn:"PSKHex"`
	Certificate   string        `dyn:"Certificate"`
	PrivateKey    string        `dyn:"PrivateKey"`
	CACertificate string        `dyn:"CACertificate"`
	IKEProposals  string        `dyn:"IKEProposals"`
	ESPProposals  string        `dyn:"ESPProposals"`
	LocalTS       string        `dyn:"LocalTS"`
	RemoteTS      string        `dyn:"RemoteTS"`
	Mode          string        `dyn:"Mode,default=tunnel"`
	MOBIKE        bool          `dyn:"MOBIKE,default=yes"`
	ForceEncap    bool          `dyn:"ForceEncap,default=yes"`
	ESP           string        `dyn:"ESP,default=auto"`
	Device        string        `dyn:"Device"`
	Retransmit    time.Duration `dyn:"Retransmit,default=2s"`
	Liveness      time.Duration `dyn:"Liveness,default=0"`
}

// toolConfig is the checked configuration.
type toolConfig struct {
	initiator bool
	local     netip.Addr
	esp       string // auto, userspace, xfrm, none
	device    string
	ike       ike.Config
	localTS   []ike.Selector
}

// loadConfig reads and checks a configuration file.
func loadConfig(path string) (*toolConfig, error) {
	f, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	var fc fileConfig
	if err := config.Decode(f, &fc); err != nil {
		return nil, err
	}
	tc := &toolConfig{local: fc.LocalAddress, device: fc.Device}
	switch fc.Role {
	case "initiator":
		tc.initiator = true
		if !fc.RemoteAddress.IsValid() {
			return nil, f.Errorf("RemoteAddress", "an initiator needs the peer's address")
		}
	case "responder":
	default:
		return nil, f.Errorf("Role", "%q is neither initiator nor responder", fc.Role)
	}
	switch fc.ESP {
	case "auto", "userspace", "xfrm", "none":
		tc.esp = fc.ESP
	default:
		return nil, f.Errorf("ESP", "%q is none of auto, userspace, xfrm, none", fc.ESP)
	}
	c := ike.Config{
		LocalID: fc.LocalID, MOBIKE: fc.MOBIKE, ForceEncap: fc.ForceEncap,
		Retransmit: fc.Retransmit, Liveness: fc.Liveness,
	}
	switch {
	case fc.PSK != "" && len(fc.PSKHex) > 0:
		return nil, f.Errorf("PSKHex", "give PSK or PSKHex, not both")
	case fc.PSK != "":
		c.PSK = []byte(fc.PSK)
	case len(fc.PSKHex) > 0:
		c.PSK = fc.PSKHex
	}
	if fc.Certificate != "" || fc.PrivateKey != "" {
		if fc.Certificate == "" || fc.PrivateKey == "" {
			return nil, f.Errorf("Certificate", "a certificate needs its PrivateKey and the other way round")
		}
		chain, err := secure.ReadCertificates(fc.Certificate)
		if err != nil {
			return nil, f.Errorf("Certificate", "%v", err)
		}
		key, err := secure.ReadKey(fc.PrivateKey)
		if err != nil {
			return nil, f.Errorf("PrivateKey", "%v", err)
		}
		c.Certificate, c.PrivateKey = chain, key
	}
	if fc.CACertificate != "" {
		if c.Roots, err = secure.ReadCertPool(fc.CACertificate); err != nil {
			return nil, f.Errorf("CACertificate", "%v", err)
		}
	}
	if len(c.PSK) == 0 && c.PrivateKey == nil {
		return nil, f.Errorf("PSK", "no PSK, PSKHex or Certificate: nothing to authenticate with")
	}
	if fc.IKEProposals != "" {
		if c.IKEProposals, err = ike.ParseProposals(fc.IKEProposals, false); err != nil {
			return nil, f.Errorf("IKEProposals", "%v", err)
		}
	}
	if fc.ESPProposals != "" {
		if c.ESPProposals, err = ike.ParseProposals(fc.ESPProposals, true); err != nil {
			return nil, f.Errorf("ESPProposals", "%v", err)
		}
	}
	peer := ike.Peer{Name: "peer", RemoteID: fc.RemoteID}
	if fc.RemoteAddress.IsValid() {
		peer.Address = netip.AddrPortFrom(fc.RemoteAddress, 500)
	}
	if peer.LocalTS, err = parseSelectors(fc.LocalTS); err != nil {
		return nil, f.Errorf("LocalTS", "%v", err)
	}
	if peer.RemoteTS, err = parseSelectors(fc.RemoteTS); err != nil {
		return nil, f.Errorf("RemoteTS", "%v", err)
	}
	switch fc.Mode {
	case "tunnel":
	case "transport":
		peer.Mode = ike.ModeTransport
	default:
		return nil, f.Errorf("Mode", "%q is neither tunnel nor transport", fc.Mode)
	}
	c.Peers = []ike.Peer{peer}
	tc.ike = c
	tc.localTS = peer.LocalTS
	if len(tc.localTS) == 0 {
		tc.localTS = []ike.Selector{ike.PrefixSelector(netip.PrefixFrom(tc.local, 32))}
	}
	return tc, nil
}

// parseSelectors reads a comma-separated list of prefixes.
func parseSelectors(s string) ([]ike.Selector, error) {
	var out []ike.Selector
	for _, w := range strings.Split(s, ",") {
		w = strings.TrimSpace(w)
		if w == "" {
			continue
		}
		p, err := netip.ParsePrefix(w)
		if err != nil {
			a, aerr := netip.ParseAddr(w)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a prefix or address", w)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if !p.Addr().Is4() {
			return nil, fmt.Errorf("%q: only IPv4 selectors are carried by the ESP data path", w)
		}
		out = append(out, ike.PrefixSelector(p))
	}
	return out, nil
}
