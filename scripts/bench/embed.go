package main

import (
	"fmt"
	"io"
	"os"
)

// embedBudgetGzip is the embed snippet's size budget (build/embed.go checks it too).
const embedBudgetGzip = 2048

// fileSize is one file's size, raw and compressed with compress/gzip's default level.
type fileSize struct {
	Path      string `json:"path"`
	Bytes     int64  `json:"bytes"`
	GzipBytes int64  `json:"gzip_bytes"`
	Error     string `json:"error,omitempty"`
}

// measureFile sizes the file at path (the site's embed.js).
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

// printEmbed prints the embed snippet's size line.
func printEmbed(w io.Writer, fs *fileSize) {
	if fs == nil {
		return
	}
	if fs.Error != "" {
		fmt.Fprintf(w, "\nembed.js: size unknown: %s\n", fs.Error)
		return
	}
	verdict := "within"
	if fs.GzipBytes > embedBudgetGzip {
		verdict = "OVER"
	}
	fmt.Fprintf(w, "\nembed.js (the checkout snippet, %s): %d bytes raw / %d bytes gzip (%s the %d-byte gzip budget)\n",
		fs.Path, fs.Bytes, fs.GzipBytes, verdict, embedBudgetGzip)
}
