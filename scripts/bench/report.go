package main

import (
	"fmt"
	"io"
	"math"
	"text/tabwriter"
)

// cell is the median over rounds of one variant/endpoint/concurrency.
type cell struct {
	CPUPerReq, OtherPerReq, ReqPerSec, P50, P99 float64
	Errors, Rounds                              int
}

func summarize(res results) map[string]map[string]cell {
	type key struct {
		ep string
		c  int
	}
	vals := map[string]map[key][]loadResult{}
	for _, r := range res.Runs {
		for _, l := range r.Loads {
			if vals[r.Variant] == nil {
				vals[r.Variant] = map[key][]loadResult{}
			}
			k := key{l.Endpoint, l.Concurrency}
			vals[r.Variant][k] = append(vals[r.Variant][k], l)
		}
	}
	out := map[string]map[string]cell{}
	for v, byKey := range vals {
		out[v] = map[string]cell{}
		for k, ls := range byKey {
			var cpu, other, rps, p50, p99 []float64
			c := cell{Rounds: len(ls)}
			for _, l := range ls {
				if l.Requests == 0 {
					continue
				}
				cpu = append(cpu, l.CPUPerReq)
				other = append(other, l.OtherPerReq)
				rps = append(rps, l.ReqPerSec)
				p50 = append(p50, l.P50)
				p99 = append(p99, l.P99)
				c.Errors += l.Errors
			}
			c.CPUPerReq, c.OtherPerReq, c.ReqPerSec, c.P50, c.P99 = median(cpu), median(other), median(rps), median(p50), median(p99)
			out[v][cellKey(k.ep, k.c)] = c
		}
	}
	return out
}

func cellKey(ep string, c int) string { return fmt.Sprintf("%s/%d", ep, c) }

func f(x float64, prec int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func mib(bytes float64) string {
	if bytes <= 0 {
		return "-"
	}
	return f(bytes/(1<<20), 2)
}

func printReport(w io.Writer, res results) {
	o := res.Options
	sum := summarize(res)
	fmt.Fprintf(w, "\nCheckout worker benchmark: wrangler dev (local workerd) + stripe-mock, %d round(s), %d requests per run, medians over rounds\n", o.Rounds, o.N)
	fmt.Fprintf(w, "CPU ms/req = utime+stime of the user-worker workerd process per request; other = the rest of wrangler's process tree (node, proxy workerd)\n")
	fmt.Fprintf(w, "create = POST /create-checkout-session, status = GET /session-status (one call to stripe-mock each), confirm = POST /create-confirm-intent (two: the ConfirmationToken, then the PaymentIntent);\n")
	fmt.Fprintf(w, "webhook = POST /webhook, a new signed payment_intent.succeeded event recorded as a new order (D1, no Stripe call); dup-event = the same event again (a duplicate)\n\n")

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tendpoint\tc\tCPU ms/req\tother ms/req\treq/s\tp50 ms\tp99 ms\terrors\truns\t")
	for _, v := range res.Variants {
		for _, ep := range endpointNames() {
			for _, c := range o.Concurrency {
				cl, ok := sum[v.Name][cellKey(ep, c)]
				if !ok {
					fmt.Fprintf(tw, "%s\t%s\t%d\t-\t-\t-\t-\t-\t-\t0\t\n", v.Name, ep, c)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", v.Name, ep, c,
					f(cl.CPUPerReq, 2), f(cl.OtherPerReq, 2), f(cl.ReqPerSec, 1), f(cl.P50, 1), f(cl.P99, 1), cl.Errors, cl.Rounds)
			}
		}
	}
	tw.Flush()

	printPerRequest(w, res)
	printWarmups(w, res)

	fmt.Fprintf(w, "\nStart-up and size (first request = first POST /create-checkout-session after wrangler is ready; it pays the instance start-up;\n")
	fmt.Fprintf(w, "CPU ms in clock ticks of the whole process, main thread / other threads in ns from schedstat;\n")
	fmt.Fprintf(w, "start-up = the user workerd's CPU from its start until ready: workerd itself, compiling the worker and its global scope)\n\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tfirst req ms\tfirst req CPU ms\tmain thread ms\tother threads ms\tstart-up main ms\tstart-up other ms\twrangler ready s\tworkerd RSS MiB\twasm MiB\twasm gzip MiB\tupload MiB\tupload gzip MiB\t")
	for _, v := range res.Variants {
		var first, firstCPU, firstMain, firstOther, startMain, startOther, ready, rss []float64
		for _, r := range res.Runs {
			if r.Variant != v.Name || r.FirstRequestMs == 0 {
				continue
			}
			first = append(first, r.FirstRequestMs)
			firstCPU = append(firstCPU, r.FirstRequestCPUms)
			firstMain = append(firstMain, r.FirstRequestMainMs)
			firstOther = append(firstOther, r.FirstRequestOtherMs)
			startMain = append(startMain, r.StartupMainMs)
			startOther = append(startOther, r.StartupOtherMs)
			ready = append(ready, r.StartupSeconds)
			if r.RSSMB > 0 {
				rss = append(rss, r.RSSMB)
			}
		}
		s := res.Sizes[sizeKey(v)]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", v.Name,
			f(median(first), 1), f(median(firstCPU), 0), f(median(firstMain), 2), f(median(firstOther), 2), f(median(startMain), 0), f(median(startOther), 0), f(median(ready), 1), f(median(rss), 0),
			mib(float64(s.WasmBytes)), mib(float64(s.WasmGzipBytes)), mib(s.UploadKiB*1024), mib(s.UploadGzipKiB*1024))
	}
	tw.Flush()
	for _, v := range res.Variants {
		if s := res.Sizes[sizeKey(v)]; s.UploadError != "" {
			fmt.Fprintf(w, "  %s: upload size unknown: %s\n", sizeKey(v), s.UploadError)
		}
	}
	printEmbed(w, res.EmbedJS, "the checkout snippet")
	printEmbed(w, res.CartJS, "the optional cart script")

	if _, ok := sum["js"]; ok {
		var others []string
		for _, v := range res.Variants {
			if v.Name != "js" {
				others = append(others, v.Name)
			}
		}
		if len(others) > 0 {
			fmt.Fprintf(w, "\nCPU ms/req relative to the JavaScript reference (stripe-node): median / median; above 1 = costs more than JS\n\n")
			tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprint(tw, "endpoint\tc\t")
			for _, v := range others {
				fmt.Fprintf(tw, "%s/js\t", v)
			}
			fmt.Fprintln(tw)
			for _, ep := range endpointNames() {
				for _, c := range o.Concurrency {
					k := cellKey(ep, c)
					fmt.Fprintf(tw, "%s\t%d\t", ep, c)
					js, jsOK := sum["js"][k]
					for _, v := range others {
						cl, ok := sum[v][k]
						if !ok || !jsOK || js.CPUPerReq <= 0 {
							fmt.Fprint(tw, "-\t")
							continue
						}
						fmt.Fprintf(tw, "%s\t", f(cl.CPUPerReq/js.CPUPerReq, 1))
					}
					fmt.Fprintln(tw)
				}
			}
			tw.Flush()
		}
	}

	var failed []runResult
	for _, r := range res.Runs {
		if r.Error != "" {
			failed = append(failed, r)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nFailed runs (their completed loads are included above):\n")
		for _, r := range failed {
			fmt.Fprintf(w, "  round %d %s: %s\n", r.Round, r.Variant, r.Error)
		}
	}
}

// printPerRequest prints, for the loads at concurrency 1, the main thread's
// CPU per request (schedstat): the median request, the mean, the largest,
// and the process's CPU per request less that mean ("rest": V8's background
// threads, garbage collection and compilation, and the main thread between
// requests), medians over rounds. The largest is usually the request that
// met a retiring Go instance and started the next one (TinyGo retires every
// RETIRE_REQUESTS).
func printPerRequest(w io.Writer, res results) {
	p50s, means, maxs, rests, workers := map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}
	for _, r := range res.Runs {
		for _, l := range r.Loads {
			if l.Concurrency != 1 || len(l.MainCPU) == 0 {
				continue
			}
			k := variantEndpoint{r.Variant, l.Endpoint}
			m := mean(l.MainCPU)
			p50s[k] = append(p50s[k], percentile(l.MainCPU, 50))
			means[k] = append(means[k], m)
			maxs[k] = append(maxs[k], percentile(l.MainCPU, 100))
			rests[k] = append(rests[k], l.CPUPerReq-m)
			workers[k] = append(workers[k], l.Threads[v8Workers])
		}
	}
	if len(p50s) == 0 {
		return
	}
	fmt.Fprintf(w, "\nMain-thread CPU of single requests at c=1 (schedstat ns): median request, mean, largest request; rest = CPU ms/req above less the mean\n(V8's background threads: garbage collection, compilation; and the main thread between requests); medians over rounds\n\n")
	medianTable(w, res, "median ms\tmean ms\tlargest ms\trest ms/req\tof it V8 workers", 2, p50s, means, maxs, rests, workers)
}

// v8Workers is the name (comm, cut to 15 bytes by Linux) of V8's background
// threads in workerd: compilation (Liftoff, TurboFan tier-up) and the
// concurrent parts of garbage collection.
const v8Workers = "V8 DefaultWorke"

// printWarmups prints what each endpoint's warm-up requests cost in total
// (medians over rounds): all threads, the main thread, and V8's background
// threads. Measured here: most of a TinyGo path's warm-up beyond the JS
// reference's is V8 compiling its WebAssembly again with TurboFan once it is
// hot, once per isolate; with a short warm-up that cost landed in the measured
// requests as "rest".
func printWarmups(w io.Writer, res results) {
	total, main, workers := map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}, map[variantEndpoint][]float64{}
	n := 0
	for _, r := range res.Runs {
		for _, wu := range r.Warmups {
			k := variantEndpoint{r.Variant, wu.Endpoint}
			sum := 0.0
			for _, ms := range wu.Threads {
				sum += ms
			}
			total[k] = append(total[k], sum)
			main[k] = append(main[k], wu.Threads["main"])
			workers[k] = append(workers[k], wu.Threads[v8Workers])
			n = wu.Requests
		}
	}
	if len(total) == 0 {
		return
	}
	fmt.Fprintf(w, "\nWarm-up: CPU ms in total of the %d unmeasured requests before each endpoint's loads (schedstat, user workerd), medians over rounds;\nV8 workers = its background threads (tier-up compilation, concurrent GC): a one-time cost per isolate\n\n", n)
	medianTable(w, res, "total ms\tmain thread ms\tV8 workers ms", 1, total, main, workers)
}

// variantEndpoint keys a figure of one endpoint of one variant, over rounds.
type variantEndpoint struct{ v, ep string }

// medianTable prints one row per variant and endpoint that has figures, in
// the order of res.Variants and endpointNames: the median over rounds of each
// column (heads: the columns' names, tab-separated), to digits places.
func medianTable(w io.Writer, res results, heads string, digits int, cols ...map[variantEndpoint][]float64) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tendpoint\t"+heads+"\t")
	for _, v := range res.Variants {
		for _, ep := range endpointNames() {
			k := variantEndpoint{v.Name, ep}
			if len(cols[0][k]) == 0 {
				continue
			}
			row := v.Name + "\t" + ep + "\t"
			for _, col := range cols {
				row += f(median(col[k]), digits) + "\t"
			}
			fmt.Fprintln(tw, row)
		}
	}
	tw.Flush()
}

// mean is the arithmetic mean of xs (NaN for none).
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}
