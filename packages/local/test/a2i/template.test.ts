import { describe, expect, it } from "vitest";
import { renderTaskTemplate, TemplateRenderError } from "../../src/a2i/template";

const noGrant = { grantReadAccess: (uri: string) => `http://127.0.0.1:1/presigned?uri=${uri}` };
const PEACH = "Have you read 'James & the Giant Peach'?";
const PEACH_ESCAPED = "Have you read &#39;James &amp; the Giant Peach&#39;?";

describe("renderTaskTemplate (W1, W2)", () => {
  it("W1 renders task.input values from the parsed InputContent", async () => {
    // Arrange
    const template =
      "<p>{{ task.input.taskObject }}</p>{% for l in task.input.labels %}[{{ l }}]{% endfor %}";

    // Act
    const html = await renderTaskTemplate(
      template,
      { taskObject: "s3://b/k.png", labels: ["Cat", "Dog"] },
      noGrant,
    );

    // Assert
    expect(html).toBe("<p>s3://b/k.png</p>[Cat][Dog]");
  });

  it("W1 autoescapes output by default exactly as the A2I documentation shows", async () => {
    // Arrange
    const template = "{{ task.input.q }}";

    // Act
    const html = await renderTaskTemplate(template, { q: PEACH }, noGrant);

    // Assert
    expect(html).toBe(PEACH_ESCAPED);
  });

  it("W1 renders the documented escape, escape_once and skip_autoescape examples", async () => {
    // Arrange
    const template = [
      `{{ "Have you read 'James & the Giant Peach'?" }}`,
      `{{ "Have you read 'James & the Giant Peach'?" | escape }}`,
      `{{ "Have you read 'James &amp; the Giant Peach'?" | escape_once }}`,
      `{{ "Have you read 'James & the Giant Peach'?" | skip_autoescape }}`,
    ].join("\n");

    // Act
    const html = await renderTaskTemplate(template, {}, noGrant);

    // Assert
    expect(html.split("\n")).toEqual([PEACH_ESCAPED, PEACH_ESCAPED, PEACH_ESCAPED, PEACH]);
  });

  it("W1 serialises objects with to_json without autoescaping the quotes", async () => {
    // Arrange
    const jsObject = { point_number: 8, coords: [59, 76] };

    // Act
    const html = await renderTaskTemplate("{{ task.input.jsObject | to_json }}", { jsObject }, noGrant);

    // Assert
    expect(html).toBe('{"point_number":8,"coords":[59,76]}');
    expect(JSON.parse(html)).toEqual(jsObject);
  });

  it("escapes to_json output for an attribute with the documented to_json | escape idiom", async () => {
    // Arrange
    const template = `<crowd-image-classifier categories="{{ task.input.labels | to_json | escape }}">`;

    // Act
    const html = await renderTaskTemplate(template, { labels: ["Cat", "None of the Above"] }, noGrant);

    // Assert
    expect(html).toBe(
      '<crowd-image-classifier categories="[&quot;Cat&quot;,&quot;None of the Above&quot;]">',
    );
  });

  it("W1 escapes HTML and script in the input unless skip_autoescape is used", async () => {
    // Arrange
    const evil = `<script>alert("x")</script><img src=x onerror='y'>`;

    // Act
    const escaped = await renderTaskTemplate("{{ task.input.evil }}", { evil }, noGrant);
    const raw = await renderTaskTemplate("{{ task.input.evil | skip_autoescape }}", { evil }, noGrant);

    // Assert
    expect(escaped).toBe(
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;y&#39;&gt;",
    );
    expect(raw).toBe(evil);
  });

  it("keeps to_json from closing a script element while the JSON still parses to the input", async () => {
    // Arrange
    const input = { note: "</script><script>alert('x')</script> & more" };

    // Act
    const html = await renderTaskTemplate("{{ task.input | to_json }}", input, noGrant);

    // Assert
    expect(html).not.toMatch(/[<>&']/);
    expect(JSON.parse(html)).toEqual(input);
  });

  it("autoescapes the result of any standard filter that follows a raw one", async () => {
    // Arrange
    const template = "{{ task.input.q | skip_autoescape | upcase }}";

    // Act
    const html = await renderTaskTemplate(template, { q: "a & b" }, noGrant);

    // Assert
    expect(html).toBe("A &amp; B");
  });

  it("supports the standard Liquid tags and filters", async () => {
    // Arrange
    const template =
      "{% assign n = task.input.items | size %}{% if n > 1 %}{{ task.input.items | join: ', ' | upcase }}{% endif %}" +
      "{% case task.input.kind %}{% when 'logo' %}L{% else %}?{% endcase %}{{ task.input.missing | default: 'none' }}";

    // Act
    const html = await renderTaskTemplate(template, { items: ["a", "b"], kind: "logo" }, noGrant);

    // Assert
    expect(html).toBe("A, BLnone");
  });

  it("W2 turns an s3 URI into the URL the grant_read_access callback returns", async () => {
    // Arrange
    const seen: string[] = [];
    const options = {
      grantReadAccess: (uri: string) => {
        seen.push(uri);
        return `http://127.0.0.1:4566/bucket/key.png?X-Amz-Signature=abc`;
      },
    };

    // Act
    const html = await renderTaskTemplate(
      `<img src="{{ task.input.taskObject | grant_read_access }}">`,
      { taskObject: "s3://bucket/key.png" },
      options,
    );

    // Assert
    expect(seen).toEqual(["s3://bucket/key.png"]);
    expect(html).toBe('<img src="http://127.0.0.1:4566/bucket/key.png?X-Amz-Signature=abc">');
  });

  it("rejects grant_read_access on something that is not an s3 URI with a TemplateRenderError", async () => {
    // Arrange
    const template = "{{ task.input.url | grant_read_access }}";

    // Act
    const rendering = renderTaskTemplate(template, { url: "https://example.com/x.png" }, noGrant);

    // Assert
    await expect(rendering).rejects.toThrow(TemplateRenderError);
    await expect(rendering).rejects.toThrow(/grant_read_access expects an s3:\/\/ URI/);
  });

  it("reports a template syntax error as a TemplateRenderError carrying the Liquid message", async () => {
    // Arrange
    const template = "{% if task.input.x %}unclosed";

    // Act
    const rendering = renderTaskTemplate(template, { x: 1 }, noGrant);

    // Assert
    await expect(rendering).rejects.toMatchObject({
      name: "TemplateRenderError",
      message: expect.stringMatching(/tag .*if.* not closed/),
    });
  });

  it("refuses to include files from disk", async () => {
    // Arrange
    const template = "{% include '/etc/passwd' %}";

    // Act
    const rendering = renderTaskTemplate(template, {}, noGrant);

    // Assert
    await expect(rendering).rejects.toThrow(TemplateRenderError);
  });
});
