module checkoutkit

go 1.26

require (
	github.com/evanw/esbuild v0.28.2
	github.com/stripe/stripe-go/v82 v82.5.1
	github.com/syumai/workers v0.33.0
)

require golang.org/x/sys v0.0.0-20220715151400-c0bba94af5f8 // indirect
