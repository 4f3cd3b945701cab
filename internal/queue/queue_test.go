package queue

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestOrderAndBound(t *testing.T) {
	q := New[int](2)
	if !q.Push(1) || !q.Push(2) || q.Push(3) {
		t.Fatal("a queue of 2 took a third value or refused one of the first two")
	}
	for want := 1; want <= 2; want++ {
		if v, err := q.Pop(); err != nil || v != want {
			t.Fatalf("Pop = %d, %v; want %d", v, err, want)
		}
	}
}

func TestDeadline(t *testing.T) {
	q := New[int](1)
	q.SetDeadline(time.Now().Add(-time.Second))
	if _, err := q.Pop(); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	// A deadline moved while Pop waits applies to that Pop.
	q.SetDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, err := q.Pop(); done <- err }()
	time.Sleep(10 * time.Millisecond)
	q.SetDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("moved deadline: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Pop did not see the new deadline")
	}
	// Cleared, a value is returned again.
	q.SetDeadline(time.Time{})
	q.Push(7)
	if v, err := q.Pop(); err != nil || v != 7 {
		t.Fatalf("after clearing the deadline: %d, %v", v, err)
	}
}

func TestClose(t *testing.T) {
	q := New[int](1)
	done := make(chan error, 1)
	go func() { _, err := q.Pop(); done <- err }()
	if !q.Close() || q.Close() {
		t.Fatal("Close should report true once")
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("waiting Pop after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake Pop")
	}
	if q.Push(1) {
		t.Error("a closed queue took a value")
	}
	select {
	case <-q.Closed():
	default:
		t.Error("Closed not closed")
	}
}
