package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// embedBudgetGzip is the size budget of the embed snippet and of the cart
// script beside it, each (build/embed.go checks it too).
const embedBudgetGzip = 2048

// fileSize is one file's size, raw and compressed with compress/gzip's default level.
type fileSize struct {
	Path      string `json:"path"`
	Bytes     int64  `json:"bytes"`
	GzipBytes int64  `json:"gzip_bytes"`
	Error     string `json:"error,omitempty"`
}

// measureFile sizes the file at path (the site's embed.js or cart.js).
func measureFile(path string) *fileSize {
	fs := &fileSize{Path: path}
	data, err := os.ReadFile(path)
	if err == nil {
		fs.Bytes = int64(len(data))
		fs.GzipBytes, err = gzipSize(data)
	}
	if err != nil {
		fs.Error = err.Error()
	}
	return fs
}

// printEmbed prints the size line of the embed snippet, or (what: "cart.js
// (the optional cart script") the cart script.
func printEmbed(w io.Writer, fs *fileSize, what string) {
	if fs == nil {
		return
	}
	name := filepath.Base(fs.Path)
	if fs.Error != "" {
		fmt.Fprintf(w, "\n%s: size unknown: %s\n", name, fs.Error)
		return
	}
	verdict := "within"
	if fs.GzipBytes > embedBudgetGzip {
		verdict = "OVER"
	}
	fmt.Fprintf(w, "\n%s (%s, %s): %d bytes raw / %d bytes gzip (%s the %d-byte gzip budget)\n",
		name, what, fs.Path, fs.Bytes, fs.GzipBytes, verdict, embedBudgetGzip)
}
