module releasetool

go 1.26.0

require golang.org/x/mod v0.33.0
