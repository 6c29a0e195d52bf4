package net

type Addr interface{ String() string }

type OpError struct {
	Op, Net string
	Err     error
}
