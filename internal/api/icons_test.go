package api

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// drawIcon draws the app icon at size: an envelope on the inbox's blue,
// with rounded corners. Drawn here rather than in an editor so that the
// PNGs can be made again, byte for byte, by anyone.
func drawIcon(size int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	blue := color.NRGBA{0x0a, 0x24, 0x6a, 0xff}
	white := color.NRGBA{0xff, 0xff, 0xff, 0xff}
	f := float64(size)
	r := 0.18 * f
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			px, py := float64(x)+.5, float64(y)+.5
			// Outside the rounded corners stays transparent.
			cx, cy := math.Min(math.Max(px, r), f-r), math.Min(math.Max(py, r), f-r)
			if math.Hypot(px-cx, py-cy) > r {
				continue
			}
			c := blue
			// The envelope: a white rectangle with its flap, a V, in blue.
			if px > .2*f && px < .8*f && py > .3*f && py < .72*f {
				c = white
				flap := .3*f + (.5*f-math.Abs(px-.5*f))*0.7
				if math.Abs(py-flap) < .035*f {
					c = blue
				}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// The manifest's PNG icons are embedded at the sizes it states; with
// MESSENGER_UPDATE_ICONS=1 this test draws them again.
func TestWebIcons(t *testing.T) {
	for _, size := range []int{192, 512} {
		path := filepath.Join("web", map[int]string{192: "icon-192.png", 512: "icon-512.png"}[size])
		if os.Getenv("MESSENGER_UPDATE_ICONS") != "" {
			var b bytes.Buffer
			if err := png.Encode(&b, drawIcon(size)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		data, err := webFiles.ReadFile(path)
		if err != nil {
			t.Fatalf("%s is not embedded: %v", path, err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(data))
		if err != nil || cfg.Width != size || cfg.Height != size {
			t.Errorf("%s: %dx%d, %v; want %dx%d", path, cfg.Width, cfg.Height, err, size, size)
		}
	}
}
