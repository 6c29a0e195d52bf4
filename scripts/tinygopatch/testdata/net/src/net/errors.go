package net

import "errors"

var ErrNotImplemented = errors.New("operation not implemented")
