package main

// Small readers for form parameters shared by the API's resources.

import (
	"sort"
	"strings"
)

// readMetadataAt reads md, the parameter full (name[key]=value), into into,
// with Stripe's limits. An empty value unsets a key; "name=" (empty) unsets
// every key.
func readMetadataAt(md *param, full string, into map[string]string) *apiError {
	if md == nil {
		return nil
	}
	if md.value != nil {
		if *md.value != "" {
			return invalid(full, "", "Invalid hash: %s must be given as %s[key]=value", full, full)
		}
		for k := range into {
			delete(into, k)
		}
		return nil
	}
	names := make([]string, 0, len(md.children))
	for k := range md.children {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		key := full + "[" + k + "]"
		v := md.children[k]
		if v.value == nil {
			return invalid(key, "", "Invalid %s: metadata values must be strings", key)
		}
		if len(k) > maxMetadataKeyLen {
			return invalid(key, "", "Metadata keys can have a maximum length of %d characters.", maxMetadataKeyLen)
		}
		if len(*v.value) > maxMetadataValLen {
			return invalid(key, "", "Metadata values can have a maximum length of %d characters.", maxMetadataValLen)
		}
		if *v.value != "" {
			into[k] = *v.value
		} else {
			delete(into, k)
		}
	}
	if len(into) > maxMetadataKeys {
		return invalid(full, "", "You can have at most %d metadata keys.", maxMetadataKeys)
	}
	return nil
}

// optString reads an optional string with a maximum length; nil when absent or empty.
func optString(p *param, name, full string, maxLen int) (*string, *apiError) {
	v, ok, err := str(p, name, full)
	if err != nil || !ok || v == "" {
		return nil, err
	}
	if maxLen > 0 && len(v) > maxLen {
		return nil, invalid(full, "", "Invalid %s: must be at most %d characters", full, maxLen)
	}
	return &v, nil
}

// enum reads an optional value that must be one of vals; "" when absent.
func enum(p *param, name, full string, vals ...string) (string, *apiError) {
	v, ok, err := str(p, name, full)
	if err != nil || !ok {
		return "", err
	}
	if v == "" {
		return "", emptyString(full)
	}
	for _, x := range vals {
		if v == x {
			return v, nil
		}
	}
	return "", invalid(full, "", "Invalid %s: must be one of %s", full, oneOf(vals))
}

// boolean reads an optional boolean ("true"/"false"); nil when absent.
func boolean(p *param, name, full string) (*bool, *apiError) {
	v, ok, err := str(p, name, full)
	if err != nil || !ok {
		return nil, err
	}
	switch strings.ToLower(v) {
	case "true":
		t := true
		return &t, nil
	case "false":
		f := false
		return &f, nil
	}
	return nil, invalid(full, "", "Invalid boolean: %s", v)
}

// optEmail reads an optional email address.
func optEmail(p *param, name, full string) (*string, *apiError) {
	v, err := optString(p, name, full, 512)
	if err != nil || v == nil {
		return nil, err
	}
	if !validEmail(*v) {
		return nil, invalid(full, "email_invalid", "Invalid email address: %s", *v)
	}
	return v, nil
}

// hash returns the child name of p as a hash (nil when absent) or an error if
// it is a plain value; allowed lists the keys it may have.
func hash(p *param, name, full string, allowed ...string) (*param, *apiError) {
	c := p.child(name)
	if c == nil {
		return nil, nil
	}
	if c.value != nil {
		if *c.value == "" {
			return nil, nil
		}
		return nil, invalid(full, "", "Invalid hash: %s must be given as %s[key]=value", full, full)
	}
	if allowed != nil {
		if err := checkUnknown(c, allowed, full); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// exclusive reports the Stripe error for two parameters that cannot be combined.
func exclusive(a, b string) *apiError {
	return invalid(a, "parameters_exclusive", "You may only specify one of these parameters: %s, %s.", a, b)
}
