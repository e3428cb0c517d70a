% rebase('base', title='API reference')
<h1>{{document['info']['title']}} API reference</h1>
<p>Version {{document['info']['version']}}. The machine-readable document is <a href="/api/openapi.json">/api/openapi.json</a> (OpenAPI {{document['openapi']}}); this page is made from it.</p>
<nav aria-label="Operations">
  <ul class="operations">
% for operation in operations:
    <li><a href="#{{operation['id']}}"><code>{{operation['method']}} {{operation['path']}}</code></a> {{operation['summary']}}</li>
% end
  </ul>
</nav>
% for operation in operations:
<section class="operation" id="{{operation['id']}}" aria-labelledby="{{operation['id']}}-title">
  <h2 id="{{operation['id']}}-title"><code>{{operation['method']}} {{operation['path']}}</code></h2>
  <p>{{operation['summary']}}{{' Needs a bearer token.' if operation['secured'] else ''}}</p>
%   if operation['description']:
  <p>{{operation['description']}}</p>
%   end
%   if operation['parameters']:
  <h3>Parameters</h3>
  <dl class="parameters">
%     for parameter in operation['parameters']:
    <dt><code>{{parameter['name']}}</code> <span class="small">({{parameter['in']}}{{', required' if parameter.get('required') else ''}})</span></dt>
    <dd>{{parameter.get('description', '')}}</dd>
%     end
  </dl>
%   end
%   if operation['bodies']:
  <h3>Body</h3>
  <p>{{', '.join(operation['bodies'])}}</p>
%   end
  <h3>Responses</h3>
  <dl class="responses">
%   for status, description in operation['responses'].items():
    <dt><code>{{status}}</code></dt><dd>{{description}}</dd>
%   end
  </dl>
  <h3>Example</h3>
  <pre><code>{{operation['curl']}}</code></pre>
</section>
% end
