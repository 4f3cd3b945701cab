package cli

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

// The API calls, each through Session.call and decoded with the api
// package's payload parsers.

// reply wraps a reply's decoding error.
func reply(fn api.Func, err error) error {
	if err != nil {
		return fmt.Errorf("undecodable %s reply: %w", fn, err)
	}
	return nil
}

// addrParams encodes a home address parameter.
func addrParams(a netip.Addr) ([]byte, error) {
	p, err := api.MarshalAddr(a)
	if err != nil {
		return nil, &usageError{fmt.Sprintf("%v is not an IPv4 address", a)}
	}
	return p, nil
}

func (s *Session) getTunnels(ctx context.Context) ([]api.Tunnel, error) {
	data, err := s.call(ctx, api.FuncGetTunnels, nil)
	if err != nil {
		return nil, err
	}
	ts, err := api.ParseTunnels(data)
	return ts, reply(api.FuncGetTunnels, err)
}

func (s *Session) getTunnelInfo(ctx context.Context, home netip.Addr) (api.Tunnel, error) {
	p, err := addrParams(home)
	if err != nil {
		return api.Tunnel{}, err
	}
	data, err := s.call(ctx, api.FuncGetTunnelInfo, p)
	if err != nil {
		return api.Tunnel{}, err
	}
	t, err := api.ParseTunnel(data)
	return t, reply(api.FuncGetTunnelInfo, err)
}

func (s *Session) getCareOfAddr(ctx context.Context, home netip.Addr) (netip.Addr, error) {
	p, err := addrParams(home)
	if err != nil {
		return netip.Addr{}, err
	}
	data, err := s.call(ctx, api.FuncGetCareOfAddr, p)
	if err != nil {
		return netip.Addr{}, err
	}
	a, err := api.ParseAddr(data)
	return a, reply(api.FuncGetCareOfAddr, err)
}

func (s *Session) getStatus(ctx context.Context) (api.Status, error) {
	data, err := s.call(ctx, api.FuncGetStatus, nil)
	if err != nil {
		return api.Status{}, err
	}
	st, err := api.ParseStatus(data)
	return st, reply(api.FuncGetStatus, err)
}

func (s *Session) getTunnelingMode(ctx context.Context) (string, error) {
	data, err := s.call(ctx, api.FuncGetTunnelingMode, nil)
	if err != nil {
		return "", err
	}
	m, err := api.ParseString(data)
	return m, reply(api.FuncGetTunnelingMode, err)
}

// empty makes a call whose reply carries no data.
func (s *Session) empty(ctx context.Context, fn api.Func, params []byte) error {
	data, err := s.call(ctx, fn, params)
	if err != nil {
		return err
	}
	return reply(fn, api.ParseEmpty(data))
}

func (s *Session) destroyTunnel(ctx context.Context, home netip.Addr) error {
	p, err := addrParams(home)
	if err != nil {
		return err
	}
	return s.empty(ctx, api.FuncDestroyTunnel, p)
}

func (s *Session) enableMobile(ctx context.Context, home netip.Addr, enable bool) error {
	p, err := api.MarshalEnable(home, enable)
	if err != nil {
		return &usageError{err.Error()}
	}
	return s.empty(ctx, api.FuncEnableMobile, p)
}

func (s *Session) setTunnelingMode(ctx context.Context, mode string) error {
	p, err := api.MarshalString(mode)
	if err != nil {
		return &usageError{err.Error()}
	}
	return s.empty(ctx, api.FuncSetTunnelingMode, p)
}
